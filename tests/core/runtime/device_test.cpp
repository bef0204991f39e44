// Device choice: what each spelling means, per process of a node, and the error for CUDA where none
// is.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/runtime/device.hpp"
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

TEST(Device, ThreadsFollowTheRequestThenTheEnvironment) {
  EXPECT_EQ(configure_threads(1), 1);
  EXPECT_EQ(at::get_num_threads(), 1);
  EXPECT_GE(available_cores(), 1);
}

}  // namespace
}  // namespace robustscope
