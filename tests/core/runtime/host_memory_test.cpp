// The host memory cache: its settings, that a large tensor allocated again after its predecessor
// was freed reuses the block (no page faults), the limit, and LibTorch's raw allocation interface.
// Its own executable: the cache, once installed, stays for the process.
#include <gtest/gtest.h>
#include <torch/types.h>

#include <c10/core/CPUAllocator.h>
#include <sys/resource.h>

#include <cstdlib>

#include "core/runtime/host_memory.hpp"
#include "support/temp_dir.hpp"

namespace robustscope {
namespace {

long minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

constexpr int64_t kLargeFloats = 16 << 20;  // 64 MiB
constexpr size_t kLargeBytes = size_t{64} << 20;

// Minor page faults of `rounds` allocations of a 64 MiB tensor, each written once, then freed.
long faults_of_large_tensors(int rounds) {
  const long before = minor_faults();
  for (int round = 0; round < rounds; ++round) torch::empty({kLargeFloats}).fill_(1.0f);
  return minor_faults() - before;
}

TEST(HostMemory, SettingsAndTheirErrors) {
  EXPECT_EQ(parse_host_memory_policy("cache", "x"), HostMemoryPolicy::kCache);
  EXPECT_EQ(parse_host_memory_policy("system", "x"), HostMemoryPolicy::kSystem);
  EXPECT_ERROR_CONTAINING(parse_host_memory_policy("keep", "ROBUSTSCOPE_HOST_MEMORY"),
                          "ROBUSTSCOPE_HOST_MEMORY: \"keep\" is not a host memory policy "
                          "(allowed: cache, system)");
  setenv("ROBUSTSCOPE_HOST_CACHE_MIB", "512", 1);
  EXPECT_EQ(host_memory_settings_from_environment().cache_limit_bytes, size_t{512} << 20);
  setenv("ROBUSTSCOPE_HOST_CACHE_MIB", "-3", 1);
  EXPECT_ERROR_CONTAINING(host_memory_settings_from_environment(),
                          "ROBUSTSCOPE_HOST_CACHE_MIB: \"-3\" is not a positive number of MiB");
  unsetenv("ROBUSTSCOPE_HOST_CACHE_MIB");
  EXPECT_EQ(host_memory_settings_from_environment().policy, HostMemoryPolicy::kCache);
}

// One test in order, since the cache cannot be uninstalled: LibTorch's allocator first, then ours.
TEST(HostMemory, TheCacheReusesLargeBlocksWithinItsLimit) {
  constexpr int kRounds = 4;
  faults_of_large_tensors(1);
  const long system_faults = faults_of_large_tensors(kRounds);
  EXPECT_EQ(host_cache_statistics().misses, 0);
  EXPECT_FALSE(host_cache_installed());

  apply_host_memory_settings({HostMemoryPolicy::kCache, size_t{100} << 20});
  faults_of_large_tensors(1);  // the first block is new
  const long cached_faults = faults_of_large_tensors(kRounds);
  // 64 MiB is 16,384 pages of 4 KiB, or 32 huge pages where the kernel hands those out.
  EXPECT_GE(system_faults, kRounds * 32);
  EXPECT_LE(cached_faults * 4, system_faults)
      << "system " << system_faults << ", cached " << cached_faults;
  HostCacheStatistics statistics = host_cache_statistics();
  EXPECT_EQ(statistics.misses, 1);
  EXPECT_EQ(statistics.hits, kRounds);
  EXPECT_EQ(statistics.cached_bytes, kLargeBytes);
  EXPECT_EQ(statistics.in_use_bytes, 0u);

  EXPECT_TRUE(host_cache_installed());
  reset_host_cache_peak();
  EXPECT_EQ(host_cache_statistics().peak_in_use_bytes, 0u);
  {  // Two blocks alive at once; freeing both keeps only what fits under the 100 MiB limit.
    torch::Tensor first = torch::ones({kLargeFloats});
    torch::Tensor second = torch::full({kLargeFloats}, 2.0f);
    EXPECT_EQ(host_cache_statistics().in_use_bytes, 2 * kLargeBytes);
    EXPECT_EQ(first.sum().item<double>(), static_cast<double>(kLargeFloats));
    EXPECT_EQ(second.sum().item<double>(), 2.0 * kLargeFloats);
  }
  statistics = host_cache_statistics();
  EXPECT_EQ(statistics.cached_bytes, kLargeBytes);
  EXPECT_EQ(statistics.in_use_bytes, 0u);
  EXPECT_EQ(statistics.peak_in_use_bytes, 2 * kLargeBytes);  // the peak outlives the blocks

  // Nearly equal sizes share a block (a batch tail, a landscape chunk).
  const int64_t hits = statistics.hits;
  torch::empty({kLargeFloats - 1000});
  EXPECT_EQ(host_cache_statistics().hits, hits + 1);

  // Small tensors and LibTorch's raw interface pass through.
  EXPECT_EQ(torch::arange(10).sum().item<int64_t>(), 45);
  c10::Allocator* allocator = c10::GetCPUAllocator();
  for (size_t bytes : {size_t{256}, kLargeBytes}) {
    void* raw = allocator->raw_allocate(bytes);
    ASSERT_NE(raw, nullptr);
    static_cast<char*>(raw)[bytes - 1] = 1;
    allocator->raw_deallocate(raw);
  }
  release_host_cache();
  EXPECT_EQ(host_cache_statistics().cached_bytes, 0u);
  {
    torch::Tensor one = torch::ones({kLargeFloats});
    reset_host_cache_peak();  // a new peak starts from what is in use
    EXPECT_EQ(host_cache_statistics().peak_in_use_bytes, kLargeBytes);
  }
}

}  // namespace
}  // namespace robustscope
