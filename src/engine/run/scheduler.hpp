// The task queue of a run, as a pure object: which pending task a worker gets next (dynamic
// scheduling, preferring the model the worker already holds, else the earliest task of the plan),
// what is in flight, and when the run is done. No MPI, no threads, no files: unit-tested alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace robustscope {

class Scheduler {
 public:
  // `pending`: plan indices still to run, in plan order; `model_of[i]`: the model of plan index i.
  Scheduler(const std::vector<size_t>& pending, const std::vector<size_t>& model_of, int workers);

  // The next task for `worker`, or nullopt when nothing is left to hand out (or stop() was called).
  std::optional<size_t> assign(int worker);
  // `worker` finished `task` (an Error naming both when it was not assigned that task).
  void finish(int worker, size_t task, bool failed);
  // Hands out nothing more (an interrupted run); tasks in flight still finish.
  void stop() { stopped_ = true; }

  bool done() const { return (stopped_ || queued_ == 0) && in_flight_.empty(); }
  int64_t queued() const { return queued_; }
  int64_t in_flight() const { return static_cast<int64_t>(in_flight_.size()); }
  int64_t completed() const { return completed_; }
  int64_t failed() const { return failed_; }
  // The model `worker` holds (of its last task), if any.
  std::optional<size_t> held_model(int worker) const;

 private:
  std::vector<size_t> model_of_;
  std::map<size_t, std::deque<size_t>> by_model_;  // model → its pending tasks, in plan order
  std::set<std::pair<size_t, size_t>> fronts_;     // (first pending task, model): plan order
  std::vector<std::optional<size_t>> held_;        // per worker
  std::map<size_t, int> in_flight_;                // task → worker
  int64_t queued_ = 0, completed_ = 0, failed_ = 0;
  bool stopped_ = false;
};

}  // namespace robustscope
