// The task queue.
#include "engine/run/scheduler.hpp"

#include <string>

#include "core/error.hpp"

namespace robustscope {

Scheduler::Scheduler(const std::vector<size_t>& pending, const std::vector<size_t>& model_of,
                     int workers)
    : model_of_(model_of), held_(static_cast<size_t>(std::max(workers, 1))) {
  for (size_t task : pending) {
    if (task >= model_of_.size())
      throw Error("scheduler", "task " + std::to_string(task) + " is not in the plan");
    by_model_[model_of_[task]].push_back(task);
  }
  for (const auto& [model, tasks] : by_model_) fronts_.insert({tasks.front(), model});
  queued_ = static_cast<int64_t>(pending.size());
}

std::optional<size_t> Scheduler::held_model(int worker) const {
  return held_.at(static_cast<size_t>(worker));
}

std::optional<size_t> Scheduler::assign(int worker) {
  if (stopped_ || queued_ == 0) return std::nullopt;
  auto& held = held_.at(static_cast<size_t>(worker));
  size_t model = fronts_.begin()->second;
  if (held && by_model_.count(*held)) model = *held;
  std::deque<size_t>& tasks = by_model_.at(model);
  const size_t task = tasks.front();
  fronts_.erase({task, model});
  tasks.pop_front();
  if (tasks.empty())
    by_model_.erase(model);
  else
    fronts_.insert({tasks.front(), model});
  --queued_;
  held = model;
  in_flight_[task] = worker;
  return task;
}

void Scheduler::finish(int worker, size_t task, bool failed) {
  const auto found = in_flight_.find(task);
  if (found == in_flight_.end() || found->second != worker)
    throw Error("scheduler", "worker " + std::to_string(worker) + " reported task " +
                                 std::to_string(task) + ", which it was not running");
  in_flight_.erase(found);
  (failed ? failed_ : completed_) += 1;
}

}  // namespace robustscope
