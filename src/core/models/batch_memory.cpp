// Measuring a batch's memory (see batch_memory.hpp).
#include "core/models/batch_memory.hpp"

#include <torch/autograd.h>
#include <torch/types.h>

#include <algorithm>

#include "core/error.hpp"
#include "core/runtime/host_memory.hpp"

namespace robustscope {
namespace {

// Large-block bytes at the peak of one forward and backward pass to the input, beyond what was in
// use before it.
int64_t peak_of_one_step(Classifier& model, const InputShape& shape, int64_t batch) {
  const torch::Tensor images = torch::full(shape.batch_sizes(batch), 0.5).requires_grad_(true);
  const torch::Tensor labels = torch::zeros({batch}, torch::kInt64);
  const size_t before = host_cache_statistics().in_use_bytes;
  reset_host_cache_peak();
  {
    const torch::Tensor loss = torch::cross_entropy_loss(model.forward(images), labels);
    const torch::Tensor gradient = torch::autograd::grad({loss}, {images})[0];
  }
  return static_cast<int64_t>(host_cache_statistics().peak_in_use_bytes - before);
}

}  // namespace

BatchMemory measure_batch_memory(Classifier& model, const InputShape& shape, int64_t probe_batch) {
  if (!host_cache_installed()) {
    throw Error("batch_size: auto",
                "measures memory through the host memory cache, which "
                "ROBUSTSCOPE_HOST_MEMORY=system turns off; unset it or give batch_size a number");
  }
  const int64_t input_bytes = shape.elements() * static_cast<int64_t>(sizeof(float));
  if (probe_batch <= 0)  // the smallest batch whose inputs fill a cached block
    probe_batch = (static_cast<int64_t>(kHostCacheMinimumBytes) + input_bytes - 1) / input_bytes;
  model.set_training(false);
  const int64_t small = peak_of_one_step(model, shape, probe_batch);
  const int64_t large = peak_of_one_step(model, shape, 2 * probe_batch);
  BatchMemory memory;
  memory.bytes_per_sample =
      std::max<int64_t>(large - small, 0) / probe_batch + kAttackStateInputs * input_bytes;
  memory.fixed_bytes = std::max<int64_t>(small - (large - small), 0);
  return memory;
}

int64_t largest_batch_within(const BatchMemory& memory, int64_t budget_bytes, int64_t shard_size,
                             const std::string& what) {
  int64_t best = 0;
  for (int64_t small = 1; small * small <= shard_size; ++small) {
    if (shard_size % small != 0) continue;
    for (const int64_t batch : {small, shard_size / small})
      if (batch > best && memory.estimate(batch) <= budget_bytes) best = batch;
  }
  if (best > 0) return best;
  throw Error(what, "one sample takes an estimated " + std::to_string(memory.estimate(1) >> 20) +
                        " MiB, more than the batch memory budget of " +
                        std::to_string(budget_bytes >> 20) + " MiB");
}

}  // namespace robustscope
