// A stream of a thread's own on a GPU, so that several threads running tasks overlap on one device.
#pragma once

#include <c10/core/StreamGuard.h>
#include <torch/types.h>

#include <optional>

namespace robustscope {

// While it lives, this thread's work on `device` goes to a stream of its own from the device's pool
// instead of queueing behind other threads' work on the default stream. Nothing on the CPU, which
// has no streams.
class OwnStream {
 public:
  explicit OwnStream(const torch::Device& device);

 private:
  std::optional<c10::StreamGuard> guard_;
};

}  // namespace robustscope
