// Host synchronisations counted through LibTorch's RecordFunction observers.
#include "core/runtime/host_sync.hpp"

#include <ATen/record_function.h>

#include <cstring>
#include <mutex>

namespace robustscope {
namespace {

// Operators whose result the host must wait for (their output size or value depends on the data).
bool is_host_sync(const char* name) {
  static const char* const kOperators[] = {
      "aten::_local_scalar_dense", "aten::nonzero", "aten::masked_select",
      "aten::is_nonzero",          "aten::equal",   "aten::allclose",
      "aten::unique_dim",          "aten::_unique2"};
  for (const char* candidate : kOperators)
    if (std::strcmp(name, candidate) == 0) return true;
  return false;
}

// The counter the thread-local callback reports to (one live counter per thread).
thread_local std::map<std::string, int64_t>* active_counts = nullptr;

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& function) {
  const char* name = function.name();
  if (active_counts && name && is_host_sync(name)) ++(*active_counts)[name];
  return nullptr;
}

}  // namespace

struct HostSyncCounter::State {
  std::map<std::string, int64_t> counts;
  std::map<std::string, int64_t>* previous = nullptr;
  at::CallbackHandle handle = 0;
};

HostSyncCounter::HostSyncCounter() : state_(std::make_unique<State>()) {
  state_->previous = active_counts;
  active_counts = &state_->counts;
  state_->handle = at::addThreadLocalCallback(
      at::RecordFunctionCallback(on_start).scopes({at::RecordScope::FUNCTION}));
}

HostSyncCounter::~HostSyncCounter() {
  at::removeCallback(state_->handle);
  active_counts = state_->previous;
}

int64_t HostSyncCounter::total() const {
  int64_t total = 0;
  for (const auto& [name, count] : state_->counts) total += count;
  return total;
}

std::map<std::string, int64_t> HostSyncCounter::by_operation() const { return state_->counts; }

}  // namespace robustscope
