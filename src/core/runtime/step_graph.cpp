// CUDA-graph capture and replay of a loop's step (see step_graph.hpp).
#include "core/runtime/step_graph.hpp"

#include <torch/cuda.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "core/error.hpp"

#ifdef ROBUSTSCOPE_CUDA_GRAPHS
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace robustscope {
namespace {

std::atomic<bool>& enabled_flag() {
  static std::atomic<bool> flag{[] {
    const char* value = std::getenv("ROBUSTSCOPE_CUDA_GRAPHS");
    return value && std::strcmp(value, "1") == 0;
  }()};
  return flag;
}

}  // namespace

void set_cuda_graphs(bool enabled) { enabled_flag() = enabled; }

bool cuda_graphs_enabled() { return enabled_flag(); }

bool cuda_graphs_supported(const torch::Device& device) {
#ifdef ROBUSTSCOPE_CUDA_GRAPHS
  return device.is_cuda() && torch::cuda::is_available();
#else
  (void)device;
  return false;
#endif
}

bool cuda_graphs_available(const torch::Device& device) {
  return cuda_graphs_enabled() && cuda_graphs_supported(device);
}

void run_captured(const std::function<void()>& step, int64_t times, int64_t eager,
                  const torch::Device& device) {
#ifdef ROBUSTSCOPE_CUDA_GRAPHS
  const c10::cuda::CUDAGuard device_guard(device);
  const c10::cuda::CUDAStream caller = c10::cuda::getCurrentCUDAStream();
  const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
  // Capture needs a stream other than the default one: the side stream starts after the caller's
  // queued work, and the caller's later work waits for the side stream.
  at::cuda::CUDAEvent queued;
  queued.record(caller);
  queued.block(side);
  {
    const c10::cuda::CUDAStreamGuard stream_guard(side);
    int64_t done = 0;
    for (; done < std::min(eager, times); ++done) step();
    if (done < times) {
      at::cuda::CUDAGraph graph;
      graph.capture_begin();
      step();  // recorded, not run
      graph.capture_end();
      for (; done < times; ++done) graph.replay();
      side.synchronize();  // the graph and its memory pool are released at the end of this scope
    }
  }
  at::cuda::CUDAEvent finished;
  finished.record(side);
  finished.block(caller);
#else
  (void)step;
  (void)times;
  (void)eager;
  throw Error("cuda graphs", "this build has no CUDA graph support (asked for on " +
                                 c10::str(device) + "); reconfigure against a CUDA LibTorch");
#endif
}

}  // namespace robustscope
