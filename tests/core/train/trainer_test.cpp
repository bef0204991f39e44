// Natural training on the real MNIST split (scripts/fetch-mnist.sh): accuracy and determinism.
#include <gtest/gtest.h>
#include <torch/types.h>

#include "core/models/architectures.hpp"
#include "core/runtime/device.hpp"
#include "core/train/trainer.hpp"
#include "support/temp_dir.hpp"
#include "support/tensor_assertions.hpp"

namespace robustscope {
namespace {

Dataset mnist(const std::string& split) {
  // No skip: the test command fetches the data, and a missing split is a failure to report.
  return load_dataset("mnist", testing::data_dir(), split);
}

std::vector<torch::Tensor> train_small_cnn(const Dataset& data, const TrainConfig& config) {
  seed_all(config.seed);
  BuiltinClassifier model(ArchitectureConfig::for_dataset("small-cnn", data.info));
  train_classifier(model, data, config, natural_objective(), torch::kCPU,
                   [](const EpochReport&) {});
  std::vector<torch::Tensor> weights;
  for (const auto& parameter : model.parameters()) weights.push_back(parameter.detach().clone());
  return weights;
}

TEST(NaturalTraining, SmallCnnReachesNinetySevenPercentOnTheMnistSplit) {
  configure_threads(0);
  const Dataset train = mnist("train"), test = mnist("test");
  ASSERT_EQ(train.size(), 8000);
  ASSERT_EQ(test.size(), 2000);
  TrainConfig config;
  config.epochs = 4;
  config.batch_size = 64;
  config.seed = 1;
  seed_all(config.seed);
  BuiltinClassifier model(ArchitectureConfig::for_dataset("small-cnn", train.info));
  std::vector<EpochReport> reports;
  train_classifier(model, train, config, natural_objective(), torch::kCPU,
                   [&](const EpochReport& report) { reports.push_back(report); });
  ASSERT_EQ(reports.size(), 4u);
  EXPECT_LT(reports.back().loss, reports.front().loss);
  const double accuracy = clean_accuracy(model, test, 500, torch::kCPU);
  RecordProperty("test_accuracy", std::to_string(accuracy));
  EXPECT_GE(accuracy, 0.97);
}

TEST(NaturalTraining, SameSeedGivesIdenticalWeightsAndAnotherSeedDoesNot) {
  configure_threads(0);
  const Dataset train = mnist("train").slice(0, 1000);
  TrainConfig config;
  config.epochs = 1;
  config.batch_size = 50;
  config.seed = 5;
  const auto first = train_small_cnn(train, config);
  const auto second = train_small_cnn(train, config);
  ASSERT_EQ(first.size(), second.size());
  for (size_t i = 0; i < first.size(); ++i)
    EXPECT_TENSORS_EQUAL(first[i], second[i]) << "parameter " << i;
  config.seed = 6;
  const auto other = train_small_cnn(train, config);
  EXPECT_FALSE(torch::equal(first.back(), other.back()));
}

TEST(NaturalTraining, LearningRateSchedules) {
  TrainConfig config;
  config.learning_rate = 0.1;
  config.schedule = Schedule::kCosine;
  EXPECT_DOUBLE_EQ(scheduled_learning_rate(config, 0, 100), 0.1);
  EXPECT_NEAR(scheduled_learning_rate(config, 50, 100), 0.05, 1e-12);
  EXPECT_NEAR(scheduled_learning_rate(config, 100, 100), 0.0, 1e-12);
  config.schedule = Schedule::kStep;
  EXPECT_DOUBLE_EQ(scheduled_learning_rate(config, 49, 100), 0.1);
  EXPECT_NEAR(scheduled_learning_rate(config, 50, 100), 0.01, 1e-12);
  EXPECT_NEAR(scheduled_learning_rate(config, 80, 100), 0.001, 1e-12);
  config.schedule = Schedule::kConstant;
  EXPECT_DOUBLE_EQ(scheduled_learning_rate(config, 99, 100), 0.1);
}

TEST(NaturalTraining, InvalidSettingsAreNamed) {
  TrainConfig config;
  config.epochs = 0;
  EXPECT_ERROR_CONTAINING(config.validate(), "epochs: must be in 1..100000, got 0");
  config = TrainConfig();
  EXPECT_ERROR_CONTAINING(config.set("optimizer", "lbfgs"),
                          "optimizer: \"lbfgs\" is unknown (known: sgd, adam)");
  EXPECT_ERROR_CONTAINING(config.set("epochs", "2.5"), "epochs: \"2.5\" is not an integer");
  config = TrainConfig();
  config.learning_rate = -1;
  EXPECT_ERROR_CONTAINING(config.validate(), "learning_rate: must be positive");
}

TEST(NaturalTraining, DivergenceStopsWithAnError) {
  const Dataset train = mnist("train").slice(0, 200);
  TrainConfig config;
  config.epochs = 1;
  config.batch_size = 100;
  seed_all(0);
  BuiltinClassifier model(ArchitectureConfig::for_dataset("mlp", train.info, {{"hidden", 16}}));
  // An objective that yields NaN stands for a diverged run.
  const TrainingObjective nan_objective = [](Classifier& m, const Batch& batch) {
    torch::Tensor logits = m.forward(batch.images);
    return BatchLoss{logits.sum() * std::numeric_limits<float>::quiet_NaN(), logits};
  };
  EXPECT_ERROR_CONTAINING(
      train_classifier(model, train, config, nan_objective, torch::kCPU, [](const EpochReport&) {}),
      "the loss became NaN or infinite at epoch 1, batch 0");
}

}  // namespace
}  // namespace robustscope
