// Agreement with an independent PyTorch implementation (tests/core/attack/reference_attacks.py) on
// the same TorchScript model and inputs: robust accuracies within 1 percentage point, metric mean
// within 2%.
#include <gtest/gtest.h>
#include <torch/types.h>

#include <fstream>

#include "core/attack/attacks.hpp"
#include "core/metric/robustness_metric.hpp"
#include "core/models/model_source.hpp"
#include "core/runtime/device.hpp"
#include "core/runtime/host_memory.hpp"
#include "support/temp_dir.hpp"

namespace robustscope {
namespace {

constexpr int64_t kCount = 1000;
constexpr double kEpsilon = 0.1;
constexpr int64_t kSteps = 20;

std::map<std::string, double> read_reference(const std::string& path) {
  std::map<std::string, double> values;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const size_t equals = line.find('=');
    if (equals != std::string::npos)
      values[line.substr(0, equals)] = std::stod(line.substr(equals + 1));
  }
  return values;
}

TEST(Reference, AttacksAndMetricAgreeWithAnIndependentPyTorchImplementation) {
  if (testing::python().empty()) GTEST_SKIP() << "no Python with torch was found at configure time";
  configure_threads(0);
  // As the CLI runs: batches of 1,000 digits reuse freed memory instead of mapping it afresh.
  apply_host_memory_settings(HostMemorySettings{});
  testing::TempDir dir;
  const auto run = testing::run_command(
      testing::python() + " " ROBUSTSCOPE_SOURCE_DIR "/tests/core/attack/reference_attacks.py " +
      testing::data_dir() + " " + dir.path().string() + " " + std::to_string(kCount) + " " +
      std::to_string(kEpsilon) + " " + std::to_string(kSteps));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto reference = read_reference(dir.file("reference.txt"));

  const Dataset test = load_dataset("mnist", testing::data_dir(), "test").slice(0, kCount);
  auto model = load_classifier({"torchscript", dir.file("model.pt")}, test.info, torch::kCPU);
  const torch::Tensor ids = torch::arange(kCount);
  EXPECT_NEAR(clean_accuracy(*model, test, 500, torch::kCPU), reference.at("clean_accuracy"), 1e-6);

  for (const std::string name : {"fgsm", "pgd", "apgd-ce"}) {
    AttackConfig config = make_attack_config(name);
    config.epsilon = kEpsilon;
    config.steps = kSteps;
    if (name == "pgd") config.restarts = 3;  // as in reference_attacks.py
    const AttackOutcome outcome = run_attack(*model, test.images, test.labels, ids, config);
    const double robust_accuracy = 1.0 - outcome.broken.to(torch::kFloat64).mean().item<double>();
    const double expected = reference.at(name + "_robust_accuracy");
    std::printf("%s robust accuracy %.4f, reference %.4f\n", name.c_str(), robust_accuracy,
                expected);
    EXPECT_NEAR(robust_accuracy, expected, 0.01) << name;
    EXPECT_GT(expected, 0.02) << name << ": the setting should leave something to compare";
  }
  // The metric's mean over three seeds on each side (reference_attacks.py: its per-seed mean is
  // heavy-tailed in the start), each a converged estimate (10 restarts) on the first 300 digits.
  MetricConfig metric;
  metric.epsilon = kEpsilon;
  metric.steps = kSteps;
  metric.restarts = 10;
  double metric_mean = 0;
  for (uint64_t seed : {11, 12, 13}) {
    metric.seed = seed;
    metric_mean +=
        compute_metric(*model, test.images.slice(0, 0, 300), ids.slice(0, 0, 300), metric)
            .value.mean()
            .item<double>() /
        3;
  }
  std::printf("metric mean %.5f, reference %.5f\n", metric_mean, reference.at("metric_mean"));
  EXPECT_NEAR(metric_mean / reference.at("metric_mean"), 1.0, 0.02);
}

}  // namespace
}  // namespace robustscope
