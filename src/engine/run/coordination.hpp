// The two loops of a run, written once over the links: the coordinator hands out tasks from the
// Scheduler as workers report, and each worker runs what it is given until told to stop. The
// batch run, `prepare`, the tests and the coordinator benchmark all use them.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/run/links.hpp"
#include "engine/run/scheduler.hpp"

namespace robustscope {

struct CoordinationResult {
  bool interrupted = false;
  // A worker reported that its result found no room (WorkerReport::out_of_space): its message.
  std::optional<std::string> out_of_space;
  double assignment_wait_seconds = 0;  // summed over workers
  int64_t peak_in_flight = 0;          // the most tasks assigned and not yet finished at once
};

// Runs until the scheduler is done (or `stop_requested` becomes true, or a worker reports that it
// is out of space: then nothing more is handed out and the loop returns at once, leaving tasks in
// flight to the caller). Every worker is told
// to stop once it reports with nothing left to do. `on_report` sees each finished task.
CoordinationResult coordinate(CoordinatorLink& link, Scheduler& scheduler,
                              const std::function<void(const WorkerReport&)>& on_report,
                              const std::atomic<bool>* stop_requested = nullptr);

// What a worker does with a task: its outcome (failed, message) and its time are reported.
struct TaskOutcome {
  bool failed = false;
  std::string message;
  bool out_of_space = false;  // its result found no room: the run stops
};
void work(WorkerLink& link, const std::function<TaskOutcome(int64_t task)>& execute);

// A rank's tasks in flight: `slots` workers, each on a thread of its own behind the worker ends of
// in-process links. Each thread makes its worker (`make_worker(slot)`, on that thread, so a stream
// it sets stays its own) and works until told to stop; an exception from a task, or from making
// the worker, becomes a failed task with its message. The threads share ownership of the links and
// of what `make_worker` captured, so an interrupted run may leave them behind (`detach`). Destroyed
// while they run (an exception left the coordinator or the relay), it tells every slot to stop
// and joins each after its current task.
class WorkerSlots {
 public:
  using Execute = std::function<TaskOutcome(int64_t task)>;
  WorkerSlots(int slots, std::function<Execute(int slot)> make_worker);
  ~WorkerSlots();
  WorkerSlots(const WorkerSlots&) = delete;
  WorkerSlots& operator=(const WorkerSlots&) = delete;

  InProcessLinks& links() { return *links_; }
  void join();
  void detach();

 private:
  std::shared_ptr<InProcessLinks> links_;
  std::vector<std::thread> threads_;
};

}  // namespace robustscope
