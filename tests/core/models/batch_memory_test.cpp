// Measuring a batch's memory for `batch_size: auto`: the largest fitting divisor of the shard (by
// hand), the measurement of a small CNN against the activations it must keep and against a direct
// measurement at another batch size, and the error without the host cache.
#include <gtest/gtest.h>
#include <torch/autograd.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "core/attack/attacks.hpp"
#include "core/models/architectures.hpp"
#include "core/models/batch_memory.hpp"
#include "core/runtime/host_memory.hpp"
#include "support/temp_dir.hpp"

namespace robustscope {
namespace {

// First in this file: each test is its own process under ctest, and the cache, once installed,
// stays for the process.
TEST(BatchMemory, MeasuringNeedsTheHostCache) {
  ASSERT_FALSE(host_cache_installed());
  BuiltinClassifier model(ArchitectureConfig::for_dataset("mlp", dataset_info("mnist")));
  EXPECT_ERROR_CONTAINING(measure_batch_memory(model, dataset_info("mnist").shape, 1 << 30),
                          "ROBUSTSCOPE_HOST_MEMORY=system");
}

TEST(BatchMemory, TheLargestDivisorOfTheShardWithinTheBudget) {
  const BatchMemory memory{100, 10};
  EXPECT_EQ(largest_batch_within(memory, 100 + 10 * 12, 12, "m"), 12);
  EXPECT_EQ(largest_batch_within(memory, 100 + 10 * 6, 12, "m"), 6);
  EXPECT_EQ(largest_batch_within(memory, 100 + 10 * 6 - 1, 12, "m"), 4);  // 5 does not divide 12
  EXPECT_EQ(largest_batch_within(memory, 100 + 10 * 6, 7, "m"), 1);       // a prime shard
  EXPECT_EQ(largest_batch_within(memory, int64_t{1} << 40, 1000000007, "m"), 1000000007);
  EXPECT_EQ(largest_batch_within(memory, 100 + 10 * 1000, 1000000007, "m"), 1);
  EXPECT_ERROR_CONTAINING(
      largest_batch_within({int64_t{3} << 20, 1 << 20}, int64_t{2} << 20, 12, "spec.yaml: model a"),
      "spec.yaml: model a: one sample takes an estimated 4 MiB, more than the "
      "batch memory budget of 2 MiB");
}

// Large-block bytes at the peak of one forward and backward pass to the input at `batch`.
int64_t measured_peak(Classifier& model, const InputShape& shape, int64_t batch) {
  const torch::Tensor images = torch::full(shape.batch_sizes(batch), 0.5).requires_grad_(true);
  const size_t before = host_cache_statistics().in_use_bytes;
  reset_host_cache_peak();
  {
    const torch::Tensor loss =
        torch::cross_entropy_loss(model.forward(images), torch::zeros({batch}, torch::kInt64));
    torch::autograd::grad({loss}, {images});
  }
  return static_cast<int64_t>(host_cache_statistics().peak_in_use_bytes - before);
}

TEST(BatchMemory, ASmallCnnsMeasurementKeepsItsActivationsAndExtrapolates) {
  apply_host_memory_settings({HostMemoryPolicy::kCache, size_t{512} << 20});
  const InputShape shape = dataset_info("mnist").shape;
  BuiltinClassifier model(ArchitectureConfig::for_dataset("small-cnn", dataset_info("mnist")));
  const BatchMemory memory = measure_batch_memory(model, shape, int64_t{1} << 40);
  // The first convolution's output (32 channels of 28x28 floats) is kept for the backward pass.
  const int64_t first_activation = 32 * 28 * 28 * 4;
  const int64_t state = kAttackStateInputs * shape.elements() * 4;
  EXPECT_GE(memory.bytes_per_sample - state, first_activation);
  EXPECT_LT(memory.bytes_per_sample, 40 * first_activation);
  // At four times the larger probe, the line predicts the measured peak within 10%.
  const int64_t measured = measured_peak(model, shape, 256);
  const int64_t predicted = memory.estimate(256) - state * 256;
  EXPECT_NEAR(static_cast<double>(predicted), static_cast<double>(measured), 0.1 * measured)
      << "predicted " << predicted << ", measured " << measured;
  // A real PGD attack at that batch (its state, its clean and final passes) stays within the
  // estimate, and the estimate is not far above it (measured: 88.6 of 101.1 MB).
  const int64_t batch = 256;
  const torch::Tensor images = torch::rand(shape.batch_sizes(batch), torch::Generator());
  // Labels the model predicts: every sample is attacked.
  const torch::Tensor labels = [&] {
    torch::NoGradGuard no_grad;
    return model.forward(images).argmax(1);
  }();
  AttackConfig pgd = make_attack_config("pgd");
  pgd.epsilon = 0.1;
  pgd.steps = 3;
  const size_t before = host_cache_statistics().in_use_bytes;
  reset_host_cache_peak();
  run_attack(model, images, labels, torch::arange(batch), pgd);
  const int64_t attack_peak =
      static_cast<int64_t>(host_cache_statistics().peak_in_use_bytes - before);
  EXPECT_LE(attack_peak, memory.estimate(batch));
  EXPECT_GE(attack_peak, memory.estimate(batch) * 3 / 4);

  // The batch chosen for a budget is the largest divisor of the shard within it.
  const int64_t budget = memory.estimate(100);
  EXPECT_EQ(largest_batch_within(memory, budget, 500, "m"), 100);
  EXPECT_EQ(largest_batch_within(memory, budget - 1, 500, "m"), 50);
}

// The peak of every block in use while `measure` runs, beyond what was in use before.
template <typename Measure>
int64_t peak_while(Measure&& measure) {
  const HostCacheCountingAll counting;
  const size_t before = host_cache_statistics().in_use_bytes;
  reset_host_cache_peak();
  measure();
  return static_cast<int64_t>(host_cache_statistics().peak_in_use_bytes - before);
}

TEST(BatchMemory, MeasuringStaysWithinTheBudgetItMeasuresFor) {
  apply_host_memory_settings({HostMemoryPolicy::kCache, size_t{512} << 20});
  const DatasetInfo mnist = dataset_info("mnist");
  // A 64-wide VGG-11 under 64 MiB: the old probes (335 and 670 samples) took 1.67 GB under a
  // 256 MiB budget.
  BuiltinClassifier vgg(ArchitectureConfig::for_dataset("vgg", mnist, {{"width", 64}}));
  const int64_t budget = int64_t{64} << 20;
  BatchMemory memory;
  const int64_t measuring =
      peak_while([&] { memory = measure_batch_memory(vgg, mnist.shape, budget); });
  EXPECT_LE(measuring, budget);
  const int64_t batch = largest_batch_within(memory, budget, 500, "vgg");
  EXPECT_LE(memory.estimate(batch), budget);
  // The estimate holds a real forward and backward pass at the chosen batch (every block counted).
  const int64_t actual = peak_while([&] {
    const torch::Tensor images =
        torch::full(mnist.shape.batch_sizes(batch), 0.5).requires_grad_(true);
    const torch::Tensor loss =
        torch::cross_entropy_loss(vgg.forward(images), torch::zeros({batch}, torch::kInt64));
    torch::autograd::grad({loss}, {images});
  });
  EXPECT_LE(actual, memory.estimate(batch));

  // 512 channels at 28x28 take several MiB per sample: under a 1 MiB budget one sample is measured
  // (the old probes took 4.9 GB) and the batch is refused.
  BuiltinClassifier wide(
      ArchitectureConfig::for_dataset("small-cnn", mnist, {{"channels", 512}, {"hidden", 16}}));
  const int64_t one_sample = peak_while([&] {
    const torch::Tensor images = torch::full(mnist.shape.batch_sizes(1), 0.5).requires_grad_(true);
    const torch::Tensor loss =
        torch::cross_entropy_loss(wide.forward(images), torch::zeros({1}, torch::kInt64));
    torch::autograd::grad({loss}, {images});
  });
  const int64_t refusing =
      peak_while([&] { memory = measure_batch_memory(wide, mnist.shape, 1 << 20); });
  EXPECT_LE(refusing, one_sample + (int64_t{1} << 20));
  EXPECT_ERROR_CONTAINING(largest_batch_within(memory, 1 << 20, 500, "wide"),
                          "more than the batch memory budget of 1 MiB");
}

}  // namespace
}  // namespace robustscope
