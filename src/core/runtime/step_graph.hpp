// Replaying one step of an iterative loop as a CUDA graph. On a GPU each of an ascent step's small
// kernels (forward, backward to the input, step, projection, bookkeeping) costs a launch from the
// host, which for a small network costs as much as the arithmetic; a captured step is launched
// once. Built only against a CUDA LibTorch (ROBUSTSCOPE_CUDA_GRAPHS); elsewhere
// cuda_graphs_available() is false and run_captured() is never reached.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <functional>

namespace robustscope {

// Process-wide switch, off unless ROBUSTSCOPE_CUDA_GRAPHS=1 is in the environment or
// set_cuda_graphs(true) is called: measured on an H200, replayed steps give the eager loop's
// numbers bit for bit and run the small CNN's PGD 1.2-1.6x faster, but memory held in graph pools
// grew with every capture until a long benchmark ran out (docs/benchmarks.md), so the eager path
// stays the default until that is fixed.
void set_cuda_graphs(bool enabled);
bool cuda_graphs_enabled();

// Whether this build can capture steps on `device`: graphs built in, a CUDA device present.
bool cuda_graphs_supported(const torch::Device& device);

// Whether steps on `device` are captured: supported and enabled.
bool cuda_graphs_available(const torch::Device& device);

// Runs `step` `times` times on `device`: the first `eager` calls as they are, then one call
// captured and the graph replayed for the rest. `step` must update its state in place (same shapes
// and memory at every call) and must not synchronise with the host; its host code runs `eager` + 1
// times. Waits for the device before returning (the graph's memory is freed then).
void run_captured(const std::function<void()>& step, int64_t times, int64_t eager,
                  const torch::Device& device);

}  // namespace robustscope
