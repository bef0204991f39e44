// Device selection and thread count.
#include "core/runtime/device.hpp"

#include <ATen/Parallel.h>
#include <sched.h>
#include <torch/cuda.h>
#include <torch/utils.h>

#include <cstdlib>
#include <thread>

#include "core/error.hpp"

namespace robustscope {

torch::Device parse_device(const std::string& text) {
  if (text == "auto") {
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0)
                                       : torch::Device(torch::kCPU);
  }
  if (text == "cpu") return torch::Device(torch::kCPU);
  if (text.rfind("cuda", 0) == 0) {
    int index = 0;
    if (text.size() > 4) {
      const std::string digits = text.substr(text.find(':') + 1);
      if (text[4] != ':' || digits.empty() ||
          digits.find_first_not_of("0123456789") != std::string::npos) {
        throw Error("device",
                    "\"" + text + "\" is not a device (expected auto, cpu, cuda or cuda:i)");
      }
      index = std::stoi(digits);
    }
    if (!torch::cuda::is_available()) {
      throw Error("device", "\"" + text + "\" asked for, but this LibTorch sees no CUDA device");
    }
    if (index >= static_cast<int>(torch::cuda::device_count())) {
      throw Error("device", "\"" + text + "\" asked for, but only " +
                                std::to_string(torch::cuda::device_count()) +
                                " CUDA devices exist");
    }
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw Error("device", "\"" + text + "\" is not a device (expected auto, cpu, cuda or cuda:i)");
}

torch::Device device_for_local_rank(const std::string& text, int local_rank) {
  const torch::Device parsed = parse_device(text);
  if (parsed.is_cuda() && (text == "auto" || text == "cuda")) {
    const int count = static_cast<int>(torch::cuda::device_count());
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank % count));
  }
  return parsed;
}

int available_cores() {
  cpu_set_t mask;
  if (sched_getaffinity(0, sizeof(mask), &mask) == 0) {
    const int count = CPU_COUNT(&mask);
    if (count > 0) return count;
  }
  const unsigned hardware = std::thread::hardware_concurrency();
  return hardware > 0 ? static_cast<int>(hardware) : 1;
}

int configure_threads(int requested) {
  int threads = requested > 0 ? requested : available_cores();
  // An explicit OMP_NUM_THREADS (set by a batch script or a test runner) wins over the core count.
  const char* from_environment = std::getenv("OMP_NUM_THREADS");
  if (requested <= 0 && from_environment && std::atoi(from_environment) > 0) {
    threads = std::atoi(from_environment);
  }
  at::set_num_threads(threads);
  return at::get_num_threads();
}

void seed_all(uint64_t seed) { torch::manual_seed(seed); }

}  // namespace robustscope
