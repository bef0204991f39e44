// Attack strength on a naturally trained MNIST CNN (trained here, on the real split).
#include <gtest/gtest.h>
#include <torch/types.h>

#include "core/attack/attacks.hpp"
#include "core/runtime/device.hpp"
#include "core/train/trainer.hpp"
#include "support/temp_dir.hpp"

namespace robustscope {
namespace {

class Strength : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    configure_threads(0);
    const Dataset train = load_dataset("mnist", testing::data_dir(), "train");
    test_ = new Dataset(load_dataset("mnist", testing::data_dir(), "test").slice(0, 300));
    seed_all(2);
    model_ = new BuiltinClassifier(ArchitectureConfig::for_dataset(
        "small-cnn", train.info, {{"channels", 16}, {"hidden", 256}}));
    TrainConfig config;
    config.epochs = 3;
    config.batch_size = 64;
    config.seed = 2;
    train_classifier(*model_, train, config, natural_objective(), torch::kCPU,
                     [](const EpochReport&) {});
  }
  static void TearDownTestSuite() {
    delete model_;
    delete test_;
  }
  static double robust_accuracy(const AttackConfig& config) {
    const AttackOutcome outcome =
        run_attack(*model_, test_->images, test_->labels, torch::arange(test_->size()), config);
    return 1.0 - outcome.broken.to(torch::kFloat64).mean().item<double>();
  }
  static BuiltinClassifier* model_;
  static Dataset* test_;
};

BuiltinClassifier* Strength::model_ = nullptr;
Dataset* Strength::test_ = nullptr;

TEST_F(Strength, Pgd40AtEpsilon03LeavesUnderFivePercent) {
  EXPECT_GT(clean_accuracy(*model_, *test_, 300, torch::kCPU), 0.95);
  AttackConfig config = make_attack_config("pgd");
  config.epsilon = 0.3;
  config.steps = 40;
  const double accuracy = robust_accuracy(config);
  std::printf("PGD-40 eps 0.3 robust accuracy %.4f\n", accuracy);
  EXPECT_LT(accuracy, 0.05);
}

TEST_F(Strength, ApgdIsNeverWeakerThanPgdWithTheSameBudget) {
  for (double epsilon : {0.05, 0.1}) {
    for (const std::string loss : {"ce", "dlr"}) {
      AttackConfig pgd = make_attack_config("pgd"), apgd = make_attack_config("apgd-" + loss);
      pgd.loss = loss_names().parse("loss", loss);
      pgd.epsilon = apgd.epsilon = epsilon;
      pgd.steps = apgd.steps = 20;
      const double pgd_accuracy = robust_accuracy(pgd), apgd_accuracy = robust_accuracy(apgd);
      std::printf("eps %.2f loss %s: PGD-20 %.4f, APGD-20 %.4f\n", epsilon, loss.c_str(),
                  pgd_accuracy, apgd_accuracy);
      EXPECT_LE(apgd_accuracy, pgd_accuracy) << "epsilon " << epsilon << ", loss " << loss;
      EXPECT_GT(pgd_accuracy, 0.0) << "epsilon " << epsilon << " leaves nothing to compare";
    }
  }
}

TEST_F(Strength, CarliniWagnerFindsSmallL2Perturbations) {
  AttackConfig config = make_attack_config("cw-l2");
  config.epsilon = 3.0;
  config.steps = 100;
  const AttackOutcome outcome =
      run_attack(*model_, test_->images.slice(0, 0, 50), test_->labels.slice(0, 0, 50),
                 torch::arange(50), config);
  const torch::Tensor broken = outcome.broken & outcome.broken_by.eq(0);
  EXPECT_GT(broken.to(torch::kFloat64).mean().item<double>(), 0.8);
  const double median = outcome.perturbation_norm.masked_select(broken).median().item<double>();
  std::printf("CW-L2 median L2 %.3f\n", median);
  EXPECT_LT(median, 2.5);
}

}  // namespace
}  // namespace robustscope
