// Measuring a batch's memory (see batch_memory.hpp).
#include "core/models/batch_memory.hpp"

#include <torch/autograd.h>
#include <torch/types.h>

#include <algorithm>

#include "core/error.hpp"
#include "core/runtime/host_memory.hpp"

namespace robustscope {
namespace {

// Bytes at the peak of one forward and backward pass to the input, beyond what was in use before
// it (every block counted: the caller holds a HostCacheCountingAll).
int64_t peak_of_one_step(Classifier& model, const InputShape& shape, int64_t batch) {
  // The blocks an earlier, smaller probe freed would stay cached beside this one's: returned
  // first, so the process holds one probe's memory at a time.
  release_host_cache();
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

BatchMemory measure_batch_memory(Classifier& model, const InputShape& shape, int64_t budget_bytes,
                                 int64_t probe_batch) {
  if (!host_cache_installed()) {
    throw Error("batch_size: auto",
                "measures memory through the host memory cache, which "
                "ROBUSTSCOPE_HOST_MEMORY=system turns off; unset it or give batch_size a number");
  }
  const int64_t input_bytes = shape.elements() * static_cast<int64_t>(sizeof(float));
  if (probe_batch <= 0)  // the smallest batch whose inputs fill a cached block
    probe_batch = (static_cast<int64_t>(kHostCacheMinimumBytes) + input_bytes - 1) / input_bytes;
  model.set_training(false);
  const HostCacheCountingAll counting_every_block;
  const int64_t state_bytes = kAttackStateInputs * input_bytes;
  int64_t batch = 1, peak = peak_of_one_step(model, shape, 1);
  int64_t previous_batch = 0, previous_peak = 0;
  // peak(2b) <= 2 peak(b) when a pass is a fixed part plus a part per sample: the next
  // measurement stays within the budget whenever twice this one (and its attack state) does.
  while (batch < 2 * probe_batch && 2 * (peak + state_bytes * batch) <= budget_bytes) {
    previous_batch = batch;
    previous_peak = peak;
    // 1, 2, 4, … up to the probe, then twice it: the line is fitted on (probe, 2·probe) whenever
    // the budget allows, far enough apart that the cache's size rounding does not tilt it.
    batch = batch < probe_batch ? std::min(2 * batch, probe_batch) : 2 * probe_batch;
    peak = peak_of_one_step(model, shape, batch);
  }
  release_host_cache();
  BatchMemory memory;
  if (previous_batch == 0) {  // one sample: all of it counted per sample, none fixed
    memory.bytes_per_sample = peak + state_bytes;
    return memory;
  }
  const int64_t slope = std::max<int64_t>(peak - previous_peak, 0) / (batch - previous_batch);
  memory.bytes_per_sample = slope + state_bytes;
  memory.fixed_bytes = std::max<int64_t>(previous_peak - slope * previous_batch, 0);
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
