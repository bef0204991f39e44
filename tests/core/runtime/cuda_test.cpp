// CUDA against the CPU: the same model, samples and seeds give the same attack outcome, metric and
// landscape on both devices (to float tolerance: the kernels differ). Skipped, saying so, where no
// GPU is present — CI has none; scripts/dev/gpu-check.sh runs it on a GPU host.
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <cstdlib>

#include "core/attack/attacks.hpp"
#include "core/data/dataset.hpp"
#include "core/landscape/landscape.hpp"
#include "core/metric/robustness_metric.hpp"
#include "core/models/architectures.hpp"
#include "core/runtime/device.hpp"
#include "core/runtime/step_graph.hpp"
#include "support/tensor_assertions.hpp"

namespace robustscope {
namespace {

struct Case {
  BuiltinClassifier model;
  torch::Tensor images, labels, ids;
};

Case small_cnn_case(torch::Device device) {
  seed_all(5);
  Case c{BuiltinClassifier(ArchitectureConfig::for_dataset("small-cnn", dataset_info("mnist"),
                                                           {{"channels", 8}, {"hidden", 64}})),
         {},
         {},
         {}};
  c.model.set_training(false);
  auto generator = at::detail::createCPUGenerator(11);
  c.images = torch::rand({64, 1, 28, 28}, generator);
  {
    torch::NoGradGuard no_grad;
    c.labels = c.model.forward(c.images).argmax(1);
  }
  c.ids = torch::arange(64);
  c.model.to(device);
  c.images = c.images.to(device);
  c.labels = c.labels.to(device);
  return c;
}

class Cuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device on this machine";
  }
};

TEST_F(Cuda, AttacksTheMetricAndLandscapesGiveTheCpusNumbers) {
  Case cpu = small_cnn_case(torch::kCPU), gpu = small_cnn_case(torch::Device(torch::kCUDA, 0));
  {
    torch::NoGradGuard no_grad;
    EXPECT_TENSORS_CLOSE(cpu.model.forward(cpu.images), gpu.model.forward(gpu.images), 1e-4, 1e-4);
  }
  // Few steps from the same per-sample random starts: near-zero gradient components may take the
  // other sign on the other device, so the comparison is of outcomes, not of iterates.
  AttackConfig pgd = make_attack_config("pgd");
  pgd.epsilon = 0.1;
  pgd.steps = 5;
  const AttackOutcome on_cpu = run_attack(cpu.model, cpu.images, cpu.labels, cpu.ids, pgd);
  const AttackOutcome on_gpu = run_attack(gpu.model, gpu.images, gpu.labels, gpu.ids, pgd);
  EXPECT_TRUE(on_gpu.broken.is_cuda());
  const int64_t broken_cpu = on_cpu.broken.sum().item<int64_t>();
  const int64_t broken_gpu = on_gpu.broken.sum().item<int64_t>();
  EXPECT_LE(std::abs(broken_cpu - broken_gpu), 1) << broken_cpu << " vs " << broken_gpu;
  EXPECT_EQ(on_cpu.forward_backward_passes, on_gpu.forward_backward_passes);

  MetricConfig metric;
  metric.epsilon = 0.1;
  metric.steps = 5;
  const MetricResult psi_cpu = compute_metric(cpu.model, cpu.images, cpu.ids, metric);
  const MetricResult psi_gpu = compute_metric(gpu.model, gpu.images, gpu.ids, metric);
  EXPECT_NEAR(psi_gpu.value.mean().item<double>(), psi_cpu.value.mean().item<double>(),
              0.01 * psi_cpu.value.mean().item<double>());

  LandscapeConfig landscape;
  landscape.epsilon = 0.1;
  landscape.resolution_1d = 11;
  landscape.resolution_2d = 7;
  const int64_t label = cpu.labels[0].item<int64_t>();
  const LandscapeResult grid_cpu =
      compute_landscape(cpu.model, cpu.images.slice(0, 0, 1), label, 0, landscape);
  const LandscapeResult grid_gpu =
      compute_landscape(gpu.model, gpu.images.slice(0, 0, 1), label, 0, landscape);
  EXPECT_TENSORS_CLOSE(grid_gpu.directions.random, grid_cpu.directions.random, 1e-6, 1e-5);
  EXPECT_TENSORS_CLOSE(grid_gpu.grid, grid_cpu.grid, 1e-3, 1e-3);
}

TEST_F(Cuda, ReplayedStepsGiveTheEagerLoopsNumbers) {
  const torch::Device device(torch::kCUDA, 0);
  if (!cuda_graphs_supported(device)) GTEST_SKIP() << "built without CUDA graphs";
  const bool enabled = cuda_graphs_enabled();
  Case gpu = small_cnn_case(device);
  AttackConfig pgd = make_attack_config("pgd");
  pgd.epsilon = 0.1;
  pgd.steps = 10;
  pgd.restarts = 2;  // the second restart runs on the unbroken samples only
  MetricConfig metric;
  metric.epsilon = 0.1;
  metric.steps = 10;
  metric.record_trace = true;
  set_cuda_graphs(false);
  const AttackOutcome eager_attack = run_attack(gpu.model, gpu.images, gpu.labels, gpu.ids, pgd);
  const MetricResult eager_metric = compute_metric(gpu.model, gpu.images, gpu.ids, metric);
  set_cuda_graphs(true);
  const AttackOutcome replayed_attack = run_attack(gpu.model, gpu.images, gpu.labels, gpu.ids, pgd);
  const MetricResult replayed_metric = compute_metric(gpu.model, gpu.images, gpu.ids, metric);
  set_cuda_graphs(enabled);
  EXPECT_TENSORS_EQUAL(replayed_attack.adversarial, eager_attack.adversarial);
  EXPECT_TENSORS_EQUAL(replayed_attack.broken, eager_attack.broken);
  EXPECT_TENSORS_EQUAL(replayed_attack.margin, eager_attack.margin);
  EXPECT_EQ(replayed_attack.forward_backward_passes, eager_attack.forward_backward_passes);
  EXPECT_TENSORS_EQUAL(replayed_metric.value, eager_metric.value);
  EXPECT_TENSORS_EQUAL(replayed_metric.best_step, eager_metric.best_step);
  EXPECT_TENSORS_EQUAL(replayed_metric.trace, eager_metric.trace);
  EXPECT_GT(eager_metric.value.mean().item<double>(), 0);
}

}  // namespace
}  // namespace robustscope
