// Training recipes on a slice of the real MNIST split with a small MLP: each does what it is for,
// measured against natural training from the same seed.
#include <gtest/gtest.h>
#include <torch/autograd.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "core/attack/attacks.hpp"
#include "core/models/reparameterize.hpp"
#include "core/runtime/device.hpp"
#include "core/train/recipes.hpp"
#include "support/temp_dir.hpp"
#include "support/tensor_assertions.hpp"

namespace robustscope {
namespace {

struct Trained {
  std::unique_ptr<BuiltinClassifier> model;
  double accuracy = 0;
};

class Recipes : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    configure_threads(0);
    train_ = new Dataset(load_dataset("mnist", testing::data_dir(), "train").slice(0, 3000));
    test_ = new Dataset(load_dataset("mnist", testing::data_dir(), "test").slice(0, 500));
  }
  static void TearDownTestSuite() {
    delete train_;
    delete test_;
  }

  static Trained train(const std::string& name, std::map<std::string, std::string> settings = {}) {
    RecipeConfig recipe;
    recipe.set("recipe", name);
    for (const auto& [key, value] : settings) recipe.set(key, value);
    TrainConfig config;
    config.epochs = 5;
    config.batch_size = 64;
    config.optimizer = Optimizer::kAdam;
    config.learning_rate = 1e-3;
    config.seed = 3;
    seed_all(config.seed);
    ArchitectureConfig architecture = ArchitectureConfig::for_dataset("mlp", train_->info);
    architecture.arguments["hidden"] = 128;
    architecture.arguments["layers"] = 1;
    Trained trained{std::make_unique<BuiltinClassifier>(architecture)};
    train_with_recipe(*trained.model, *train_, config, recipe, torch::kCPU,
                      [](const std::string&, const EpochReport& report) {
                        EXPECT_TRUE(std::isfinite(report.loss));
                      });
    trained.accuracy = clean_accuracy(*trained.model, *test_, 500, torch::kCPU);
    return trained;
  }

  static double fgsm_accuracy(Classifier& model, double epsilon) {
    AttackConfig fgsm = make_attack_config("fgsm");
    fgsm.epsilon = epsilon;
    const AttackOutcome outcome =
        run_attack(model, test_->images, test_->labels, torch::arange(test_->size()), fgsm);
    return 1 - outcome.broken.to(torch::kFloat64).mean().item<double>();
  }

  static double input_gradient_norm(Classifier& model) {
    torch::Tensor input = test_->images.detach().requires_grad_(true);
    const torch::Tensor loss =
        torch::cross_entropy_loss(model.forward(input), test_->labels, {}, at::Reduction::Sum);
    return torch::autograd::grad({loss}, {input})[0].flatten(1).norm(2, 1).mean().item<double>();
  }

  static Dataset* train_;
  static Dataset* test_;
};
Dataset* Recipes::train_ = nullptr;
Dataset* Recipes::test_ = nullptr;

TEST_F(Recipes, AdversarialTrainingBuysRobustnessAtItsEpsilon) {
  Trained natural = train("natural");
  EXPECT_GT(natural.accuracy, 0.85);
  const double natural_robust = fgsm_accuracy(*natural.model, 0.1);
  for (const char* name : {"fgsm", "pgd", "trades", "alp"}) {
    SCOPED_TRACE(name);
    Trained defended = train(name, {{"epsilon", "0.1"}, {"steps", "5"}});
    EXPECT_GT(defended.accuracy, 0.75);
    EXPECT_GT(fgsm_accuracy(*defended.model, 0.1), natural_robust + 0.15)
        << "natural " << natural_robust;
  }
}

TEST_F(Recipes, InputGradientRegularisationShrinksTheInputGradient) {
  Trained natural = train("natural");
  Trained regularised = train("input-gradient", {{"lambda", "10"}});
  EXPECT_GT(regularised.accuracy, 0.5);  // the penalty costs accuracy on 3,000 samples
  EXPECT_LT(input_gradient_norm(*regularised.model), 0.5 * input_gradient_norm(*natural.model));
}

TEST_F(Recipes, DistillationDeployedAtOneSaturatesTheSoftmax) {
  Trained natural = train("natural");
  Trained distilled = train("distillation", {{"temperature", "20"}});
  EXPECT_GT(distilled.accuracy, 0.7);
  // Trained at T, deployed at T = 1: logits about T times larger, so the input gradient of the
  // cross-entropy vanishes on the points it classifies right (the gradient masking of
  // distillation).
  torch::NoGradGuard no_grad;
  const double natural_spread = natural.model->forward(test_->images).std().item<double>();
  const double distilled_spread = distilled.model->forward(test_->images).std().item<double>();
  EXPECT_GT(distilled_spread, 5 * natural_spread);
}

TEST(Reparameterize, LastLayerScalesLogitsAndReluRescalingKeepsThem) {
  for (const char* arch : {"mlp", "small-cnn"}) {
    SCOPED_TRACE(arch);
    seed_all(1);
    BuiltinClassifier model(ArchitectureConfig::for_dataset(arch, dataset_info("mnist")));
    model.set_training(false);
    torch::NoGradGuard no_grad;
    const torch::Tensor x = torch::rand({4, 1, 28, 28});
    const torch::Tensor before = model.forward(x);
    Reparameterization relu;
    relu.relu_rescale = 7;
    reparameterize(model, relu);
    EXPECT_TENSORS_CLOSE(model.forward(x), before, 1e-5, 1e-4);
    EXPECT_FALSE(torch::equal(model.parameters()[0], model.parameters()[0] / 7));
    Reparameterization last;
    last.last_layer_scale = 10;
    reparameterize(model, last);
    EXPECT_TENSORS_CLOSE(model.forward(x), 10 * before, 1e-4, 1e-4);
  }
  seed_all(1);
  BuiltinClassifier resnet(
      ArchitectureConfig::for_dataset("preact-resnet18", dataset_info("cifar10")));
  Reparameterization relu;
  relu.relu_rescale = 2;
  EXPECT_ERROR_CONTAINING(reparameterize(resnet, relu), "needs only ReLU and max-pooling");
  EXPECT_ERROR_CONTAINING(relu.set("relu_rescale", "-1"), "must be positive");
}

}  // namespace
}  // namespace robustscope
