// Device choice: what each spelling means, per process of a node, and the error for CUDA where none
// is.
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <dlfcn.h>

#include <cstdlib>
#include <optional>

#include "core/runtime/device.hpp"
#include "core/runtime/step_graph.hpp"
#include "support/temp_dir.hpp"

namespace robustscope {
namespace {

TEST(Device, SpellingsAndTheRankBinding) {
  EXPECT_EQ(parse_device("cpu"), torch::Device(torch::kCPU));
  EXPECT_ERROR_CONTAINING(parse_device("gpu"), "gpu");
  EXPECT_EQ(device_for_local_rank("cpu", 3), torch::Device(torch::kCPU));
  if (torch::cuda::is_available()) {
    const int count = static_cast<int>(torch::cuda::device_count());
    EXPECT_EQ(device_for_local_rank("auto", count + 1).index(), 1 % count);
    EXPECT_EQ(device_for_local_rank("cuda:0", 5).index(), 0);  // an explicit index is kept
  } else {
    EXPECT_EQ(device_for_local_rank("auto", 1), torch::Device(torch::kCPU));
    EXPECT_ERROR_CONTAINING(device_for_local_rank("cuda", 0), "CUDA");
  }
}

TEST(Device, StepsAreCapturedOnlyOnCudaDevicesOfABuildWithGraphsWhenAskedFor) {
  EXPECT_FALSE(cuda_graphs_supported(torch::kCPU));
  const torch::Device cuda(torch::kCUDA, 0);
  if (!torch::cuda::is_available()) {
    EXPECT_FALSE(cuda_graphs_supported(cuda));
  }
  const bool enabled = cuda_graphs_enabled();
  set_cuda_graphs(false);
  EXPECT_FALSE(cuda_graphs_available(cuda));  // off: the eager loop everywhere
  set_cuda_graphs(true);
  EXPECT_EQ(cuda_graphs_available(cuda), cuda_graphs_supported(cuda));
  EXPECT_FALSE(cuda_graphs_available(torch::kCPU));
  set_cuda_graphs(enabled);
  if (!cuda_graphs_supported(cuda)) {
    int calls = 0;
    EXPECT_ERROR_CONTAINING(run_captured([&] { ++calls; }, 5, 2, cuda), "no CUDA graph support");
    EXPECT_EQ(calls, 0);
  }
}

// The environment variable is restored whatever the test does.
class ScopedEnvironment {
 public:
  ScopedEnvironment(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) previous_ = old;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~ScopedEnvironment() {
    if (previous_)
      setenv(name_, previous_->c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> previous_;
};

TEST(Device, ThreadsFollowTheRequestThenTheEnvironmentThenTheCores) {
  const int cores = available_cores();
  ASSERT_GE(cores, 1);
  {
    ScopedEnvironment omp("OMP_NUM_THREADS", "1");
    EXPECT_EQ(configure_threads(1).threads, 1);
    EXPECT_EQ(at::get_num_threads(), 1);
    EXPECT_EQ(configure_threads(0).threads, 1);  // the environment's 1 when nothing is asked
  }
  {
    ScopedEnvironment omp("OMP_NUM_THREADS", nullptr);
    EXPECT_EQ(configure_threads(0).threads, cores);  // every core this process may use
  }
  {
    ScopedEnvironment omp("OMP_NUM_THREADS", "not-a-number");
    EXPECT_EQ(configure_threads(0).threads, cores);
  }
}

TEST(Device, ARequestBeyondTheCoresIsCappedWithAWarning) {
  const int cores = available_cores();
  const ThreadSettings settings = configure_threads(100000);
  EXPECT_EQ(settings.threads, cores);
  EXPECT_EQ(at::get_num_threads(), cores);
  EXPECT_NE(settings.warning.find("100000 threads asked for"), std::string::npos)
      << settings.warning;
  EXPECT_TRUE(configure_threads(cores).warning.empty());
}

TEST(Device, TheBlasRunsOnOneThreadWhateverTheRequest) {
  using GetThreads = int (*)();
  const auto openblas_threads =
      reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  if (!openblas_threads) GTEST_SKIP() << "this process has no OpenBLAS";
  for (int requested : {1, 2}) {
    const ThreadSettings settings = configure_threads(requested);
    EXPECT_EQ(openblas_threads(), 1) << "after asking for " << requested;
    EXPECT_EQ(settings.blas_threads, 1);
    EXPECT_NE(settings.blas.find("OpenBLAS"), std::string::npos) << settings.blas;
  }
}

}  // namespace
}  // namespace robustscope
