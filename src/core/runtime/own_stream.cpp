// A GPU stream of a thread's own.
#include "core/runtime/own_stream.hpp"

#include <c10/core/impl/DeviceGuardImplInterface.h>

namespace robustscope {

OwnStream::OwnStream(const torch::Device& device) {
  if (device.is_cpu()) return;
  // Device-generic, so a CPU-only LibTorch builds it and a CUDA one hands out its pool's streams.
  guard_.emplace(c10::impl::getDeviceGuardImpl(device.type())->getStreamFromGlobalPool(device));
}

}  // namespace robustscope
