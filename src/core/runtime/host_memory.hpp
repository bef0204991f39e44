// What the process does with the memory of large CPU tensors. LibTorch allocates every activation
// anew from the C library, and glibc serves a block above 32 MiB (one ResNet-18 activation at batch
// 128 is 33.5 MiB) with a fresh mmap that it unmaps on free: each forward pass page-faults and
// zeroes its activations again, a third of a ResNet-18 forward at batch 128 on the 2-core machine.
// Telling glibc not to mmap is no cure: LibTorch's 64-byte-aligned blocks then leave a hole per
// allocation that the next, equal request never fits. So large blocks are kept in a cache of our
// own, by size, for the next pass — what PyTorch's CUDA allocator does on the GPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace robustscope {

enum class HostMemoryPolicy {
  kCache,   // keep freed large blocks for reuse, up to a limit (default)
  kSystem,  // LibTorch's own CPU allocator, untouched
};

// "cache" or "system"; anything else is an error naming `source` and the allowed values.
HostMemoryPolicy parse_host_memory_policy(const std::string& text, const std::string& source);
std::string to_string(HostMemoryPolicy policy);

struct HostMemorySettings {
  HostMemoryPolicy policy = HostMemoryPolicy::kCache;
  size_t cache_limit_bytes = size_t{2} << 30;  // freed bytes kept at most; beyond it, freed at once
};

// ROBUSTSCOPE_HOST_MEMORY (cache|system) and ROBUSTSCOPE_HOST_CACHE_MIB (a positive integer); the
// defaults above where unset. A bad value is an error naming the variable.
HostMemorySettings host_memory_settings_from_environment();

// Installs the cache as LibTorch's CPU allocator (once per process; later calls change only the
// limit), or does nothing for kSystem. Tensors allocated before keep their own deleters.
void apply_host_memory_settings(const HostMemorySettings& settings);

// Blocks of at least this size are cached; smaller ones go to LibTorch's allocator.
constexpr size_t kHostCacheMinimumBytes = size_t{1} << 20;

struct HostCacheStatistics {
  int64_t hits = 0;              // large allocations served from the cache
  int64_t misses = 0;            // large allocations that needed new memory
  size_t cached_bytes = 0;       // freed bytes held now
  size_t in_use_bytes = 0;       // large blocks handed out and not yet freed
  size_t peak_in_use_bytes = 0;  // the most in use since the cache came or reset_host_cache_peak()
};
HostCacheStatistics host_cache_statistics();
// Whether the cache is LibTorch's CPU allocator in this process (apply_host_memory_settings).
bool host_cache_installed();
// Starts a new peak from what is in use now (to measure one computation's large blocks).
void reset_host_cache_peak();

// While one is alive, the cache also serves and counts the blocks below kHostCacheMinimumBytes
// (freed at once when released, never cached), so in_use and peak see every tensor: a memory
// measurement (core/models/batch_memory.hpp) then misses nothing at any batch size. Small
// allocations cost a lock meanwhile, so it is for measurements, not for runs.
class HostCacheCountingAll {
 public:
  HostCacheCountingAll();
  ~HostCacheCountingAll();
  HostCacheCountingAll(const HostCacheCountingAll&) = delete;
  HostCacheCountingAll& operator=(const HostCacheCountingAll&) = delete;
};

// Returns every cached block to the system (e.g. before a phase with other tensor sizes).
void release_host_cache();

}  // namespace robustscope
