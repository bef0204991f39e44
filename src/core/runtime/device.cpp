// Device selection and thread pools.
#include "core/runtime/device.hpp"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <sched.h>
#include <torch/cuda.h>
#include <torch/utils.h>

#include <cstdlib>
#include <mutex>
#include <thread>

#include "core/error.hpp"
#include "core/settings.hpp"

namespace robustscope {
namespace {

// A BLAS function looked up in the process at run time, so no BLAS is linked or required.
template <typename Function>
Function find_symbol(const char* name) {
  return reinterpret_cast<Function>(::dlsym(RTLD_DEFAULT, name));
}

// Sets the BLAS library's own pool to one thread; returns what was found.
std::string pin_blas_to_one_thread() {
  using SetThreads = void (*)(int);
  using GetConfig = char* (*)();
  std::string found;
  if (auto set = find_symbol<SetThreads>("openblas_set_num_threads")) {
    set(1);
    auto config = find_symbol<GetConfig>("openblas_get_config");
    found = config ? std::string("OpenBLAS ") + config() : "OpenBLAS";
  }
  if (auto set = find_symbol<SetThreads>("MKL_Set_Num_Threads")) {
    set(1);
    found += (found.empty() ? "" : "; ") + std::string("MKL");
  }
  if (auto set = find_symbol<SetThreads>("bli_thread_set_num_threads")) {
    set(1);
    found += (found.empty() ? "" : "; ") + std::string("BLIS");
  }
  return found.empty() ? "reference or single-threaded BLAS" : found;
}

}  // namespace

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
      if (text[4] != ':' || digits.empty() || digits.size() > 3 ||
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

ThreadSettings configure_threads(int requested) {
  ThreadSettings settings;
  const int cores = available_cores();
  int threads = requested > 0 ? requested : cores;
  // An explicit OMP_NUM_THREADS (set by a batch script or a test runner) wins over the core count.
  const char* from_environment = std::getenv("OMP_NUM_THREADS");
  if (requested <= 0 && from_environment) {
    try {
      const int64_t value = parse_integer("OMP_NUM_THREADS", from_environment);
      if (value > 0) threads = static_cast<int>(std::min<int64_t>(value, 1 << 20));
    } catch (const Error&) {
      // Not a count (OpenMP also accepts lists such as "4,2"): the core count stands.
    }
  }
  if (threads > cores) {
    settings.warning = std::to_string(threads) +
                       " threads asked for, but this process may run on " + std::to_string(cores) +
                       " cores: using " + std::to_string(cores);
    threads = cores;
  }
  at::set_num_threads(threads);
  static std::once_flag interop;
  std::call_once(interop, [threads] {
    try {
      at::set_num_interop_threads(threads);
    } catch (const c10::Error&) {
      // The inter-op pool had started already (someone ran inter-op work first); it stays.
    }
  });
  settings.threads = at::get_num_threads();
  // After at::set_num_threads, which sets MKL's count to the intra-op count in MKL builds.
  settings.blas = pin_blas_to_one_thread();
  settings.blas_threads = 1;
  return settings;
}

void seed_all(uint64_t seed) { torch::manual_seed(seed); }

}  // namespace robustscope
