// The host memory cache (see host_memory.hpp for why it exists).
#include "core/runtime/host_memory.hpp"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>

#include "core/error.hpp"
#include "core/runtime/libtorch_compat.hpp"

namespace robustscope {
namespace {

// Sizes are rounded up to a sixteenth of their power of two (at most 6.25% more), so the tensors
// of a batch tail or a landscape chunk of nearly the same size share blocks.
size_t bucket_size(size_t bytes) {
  size_t power = 1;
  while (power < bytes) power <<= 1;
  const size_t step = std::max<size_t>(power / 16, 4096);
  return (bytes + step - 1) / step * step;
}

// HostCacheCountingAll scopes alive: small blocks are counted while any is.
std::atomic<int> counting_all_scopes{0};

class CachingHostAllocator final : public compat::Allocator<> {
 public:
  explicit CachingHostAllocator(c10::Allocator* fallback) : fallback_(fallback) {}

  void set_limit(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    limit_ = bytes;
    trim_locked();
  }

  c10::DataPtr allocate_block(size_t bytes) const override {
    if (bytes < kHostCacheMinimumBytes) {
      if (bytes == 0 || counting_all_scopes.load(std::memory_order_relaxed) == 0)
        return fallback_->allocate(bytes);
      void* block = acquire(bytes);  // counted, and freed (never cached) when released
      return {block, block, &release, c10::Device(c10::DeviceType::CPU)};
    }
    void* block = acquire(bucket_size(bytes));
    return {block, block, &release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  HostCacheStatistics statistics() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return statistics_;
  }

  void release_all() const {
    std::lock_guard<std::mutex> lock(mutex_);
    const size_t limit = limit_;
    limit_ = 0;
    trim_locked();
    limit_ = limit;
  }

  void reset_peak() const {
    std::lock_guard<std::mutex> lock(mutex_);
    statistics_.peak_in_use_bytes = statistics_.in_use_bytes;
  }

  static CachingHostAllocator* instance;

 private:
  void note_in_use_locked(size_t size) const {
    statistics_.in_use_bytes += size;
    statistics_.peak_in_use_bytes =
        std::max(statistics_.peak_in_use_bytes, statistics_.in_use_bytes);
  }

  void* acquire(size_t size) const {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const auto cached = free_blocks_.find(size);
      if (cached != free_blocks_.end()) {
        void* block = cached->second;
        free_blocks_.erase(cached);
        statistics_.cached_bytes -= size;
        note_in_use_locked(size);
        ++statistics_.hits;
        in_use_.emplace(block, size);
        return block;
      }
    }
    void* block = new_block(size);
    if (!block) {  // out of memory: give the cache back and try once more
      release_all();
      block = new_block(size);
    }
    if (!block) {
      throw Error("host memory", "could not allocate " + std::to_string(size) + " bytes");
    }
    std::lock_guard<std::mutex> lock(mutex_);
    note_in_use_locked(size);
    ++statistics_.misses;
    in_use_.emplace(block, size);
    return block;
  }

  static void* new_block(size_t size) {
    void* block = nullptr;
    return posix_memalign(&block, 64, size) == 0 ? block : nullptr;  // LibTorch's alignment
  }

  // The deleter of every block this allocator hands out, large or small (raw_deallocate passes
  // small blocks here too, since raw_deleter() is this).
  static void release(void* block) { instance->give_back(block); }

  void give_back(void* block) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto used = in_use_.find(block);
    if (used == in_use_.end()) {  // a small block of the fallback allocator
      fallback_->raw_deleter()(block);
      return;
    }
    const size_t size = used->second;
    in_use_.erase(used);
    statistics_.in_use_bytes -= size;
    if (size < kHostCacheMinimumBytes || statistics_.cached_bytes + size > limit_) {
      std::free(block);
      return;
    }
    free_blocks_.emplace(size, block);
    statistics_.cached_bytes += size;
  }

  // Frees the largest cached blocks until the cache is within the limit.
  void trim_locked() const {
    while (statistics_.cached_bytes > limit_ && !free_blocks_.empty()) {
      const auto largest = std::prev(free_blocks_.end());
      statistics_.cached_bytes -= largest->first;
      std::free(largest->second);
      free_blocks_.erase(largest);
    }
  }

  c10::Allocator* fallback_;
  mutable std::mutex mutex_;
  mutable std::multimap<size_t, void*> free_blocks_;
  mutable std::unordered_map<void*, size_t> in_use_;
  mutable HostCacheStatistics statistics_;
  mutable size_t limit_ = 0;
};

CachingHostAllocator* CachingHostAllocator::instance = nullptr;

}  // namespace

HostMemoryPolicy parse_host_memory_policy(const std::string& text, const std::string& source) {
  if (text == "cache") return HostMemoryPolicy::kCache;
  if (text == "system") return HostMemoryPolicy::kSystem;
  throw Error(source, "\"" + text + "\" is not a host memory policy (allowed: cache, system)");
}

std::string to_string(HostMemoryPolicy policy) {
  return policy == HostMemoryPolicy::kCache ? "cache" : "system";
}

HostMemorySettings host_memory_settings_from_environment() {
  HostMemorySettings settings;
  if (const char* policy = std::getenv("ROBUSTSCOPE_HOST_MEMORY")) {
    settings.policy = parse_host_memory_policy(policy, "ROBUSTSCOPE_HOST_MEMORY");
  }
  if (const char* limit = std::getenv("ROBUSTSCOPE_HOST_CACHE_MIB")) {
    char* end = nullptr;
    const long long mib = std::strtoll(limit, &end, 10);
    if (end == limit || *end != '\0' || mib <= 0) {
      throw Error("ROBUSTSCOPE_HOST_CACHE_MIB",
                  "\"" + std::string(limit) + "\" is not a positive number of MiB");
    }
    settings.cache_limit_bytes = static_cast<size_t>(mib) << 20;
  }
  return settings;
}

void apply_host_memory_settings(const HostMemorySettings& settings) {
  if (settings.policy == HostMemoryPolicy::kSystem) return;
  static std::once_flag installed;
  std::call_once(installed, [] {
    // Never destroyed: tensors alive at exit still hold its deleter.
    CachingHostAllocator::instance = new CachingHostAllocator(c10::GetCPUAllocator());
    c10::SetAllocator(c10::DeviceType::CPU, CachingHostAllocator::instance, /*priority=*/255);
  });
  CachingHostAllocator::instance->set_limit(settings.cache_limit_bytes);
}

HostCacheStatistics host_cache_statistics() {
  return CachingHostAllocator::instance ? CachingHostAllocator::instance->statistics()
                                        : HostCacheStatistics{};
}

bool host_cache_installed() { return CachingHostAllocator::instance != nullptr; }

void reset_host_cache_peak() {
  if (CachingHostAllocator::instance) CachingHostAllocator::instance->reset_peak();
}

void release_host_cache() {
  if (CachingHostAllocator::instance) CachingHostAllocator::instance->release_all();
}

HostCacheCountingAll::HostCacheCountingAll() { ++counting_all_scopes; }
HostCacheCountingAll::~HostCacheCountingAll() { --counting_all_scopes; }

}  // namespace robustscope
