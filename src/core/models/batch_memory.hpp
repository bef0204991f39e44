// How much memory one batch of a model's attack step takes, measured, so that a run can work at the
// largest batch within a budget (`batch_size: auto`). Measured on the CPU through the host memory
// cache, whatever device the run uses: activation sizes do not depend on the device, so every rank
// and every rerun of a spec arrives at the same batch size for the same model.
#pragma once

#include <cstdint>
#include <string>

#include "core/data/dataset.hpp"
#include "core/models/classifier.hpp"

namespace robustscope {

struct BatchMemory {
  int64_t fixed_bytes = 0;       // what a batch takes whatever its size (workspaces)
  int64_t bytes_per_sample = 0;  // activations kept for the backward pass, gradients, attack state

  int64_t estimate(int64_t batch) const { return fixed_bytes + bytes_per_sample * batch; }
};

// The input-sized tensors an ascent step holds per sample besides the model's activations (start,
// current and best point, gradient, step, the two bounds of the threat model, a spare): an upper
// count of src/core/attack/ascent.cpp's state.
constexpr int64_t kAttackStateInputs = 8;

// The peak of every block in use during one forward pass and backward pass to the input
// (cross-entropy against class 0) on the CPU, counted by the host cache (HostCacheCountingAll),
// at growing batches fitted by a line, plus kAttackStateInputs inputs per sample. `model` must be
// on the CPU. Measuring never exceeds `budget_bytes` beyond one sample's own peak: it starts at one
// sample and doubles the batch only while twice the last peak fits the budget (a pass's memory
// grows at most in proportion to its batch), up to `probe_batch` and twice that (0: the batch
// whose inputs fill kHostCacheMinimumBytes). When one sample already exceeds the budget, the
// result says so (largest_batch_within then refuses). Error when the host cache is not LibTorch's
// allocator (ROBUSTSCOPE_HOST_MEMORY=system).
BatchMemory measure_batch_memory(Classifier& model, const InputShape& shape, int64_t budget_bytes,
                                 int64_t probe_batch = 0);

// The largest divisor of `shard_size` (so batches keep starting at the same samples however the
// selection is sharded) whose estimate is within `budget_bytes`. Error naming `what` when not
// even one sample fits.
int64_t largest_batch_within(const BatchMemory& memory, int64_t budget_bytes, int64_t shard_size,
                             const std::string& what);

}  // namespace robustscope
