// SIGINT and SIGTERM during a run: noted (async-signal-safely) instead of killing the process, so
// the coordinator can stop handing out tasks and say what is kept.
#pragma once

#include <atomic>

namespace robustscope {

class InterruptWatch {
 public:
  InterruptWatch();   // installs the handlers
  ~InterruptWatch();  // restores the previous ones
  InterruptWatch(const InterruptWatch&) = delete;
  InterruptWatch& operator=(const InterruptWatch&) = delete;

  const std::atomic<bool>& requested() const;
  int signal() const;  // the signal received, 0 when none
};

}  // namespace robustscope
