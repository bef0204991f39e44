// Counts the LibTorch operations that make the host wait for the device — reading a value
// (item), data-dependent shapes (nonzero, masked_select), comparisons returning bool — run on this
// thread while a counter is alive. On a CPU they cost nothing, but each is a stall on a GPU: the
// benchmarks and tests count them to keep the per-step loops free of them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace robustscope {

class HostSyncCounter {
 public:
  HostSyncCounter();
  ~HostSyncCounter();
  HostSyncCounter(const HostSyncCounter&) = delete;
  HostSyncCounter& operator=(const HostSyncCounter&) = delete;

  int64_t total() const;
  std::map<std::string, int64_t> by_operation() const;  // "aten::nonzero" → count

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace robustscope
