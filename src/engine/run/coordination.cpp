// The coordinator's and the workers' loops.
#include "engine/run/coordination.hpp"

#include <algorithm>
#include <chrono>
#include <string>

namespace robustscope {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

CoordinationResult coordinate(CoordinatorLink& link, Scheduler& scheduler,
                              const std::function<void(const WorkerReport&)>& on_report,
                              const std::atomic<bool>* stop_requested) {
  CoordinationResult result;
  int active = link.workers();  // workers not yet told to stop
  while (active > 0) {
    if (stop_requested && stop_requested->load()) {
      scheduler.stop();
      result.interrupted = true;
      return result;
    }
    const std::optional<WorkerReport> report = link.receive(std::chrono::milliseconds(50));
    if (!report) continue;
    if (report->out_of_space) {
      scheduler.stop();
      result.out_of_space = report->message;
      return result;
    }
    if (report->task >= 0) {
      scheduler.finish(report->worker, static_cast<size_t>(report->task), report->failed);
      result.assignment_wait_seconds += report->waited_seconds;
    }
    // The worker's next task first: it never waits on what we do with its report.
    const std::optional<size_t> next = scheduler.assign(report->worker);
    link.assign(report->worker, next ? static_cast<int64_t>(*next) : kStopAssignment);
    result.peak_in_flight = std::max(result.peak_in_flight, scheduler.in_flight());
    if (!next) --active;
    if (report->task >= 0) on_report(*report);
  }
  return result;
}

void work(WorkerLink& link, const std::function<TaskOutcome(int64_t task)>& execute) {
  WorkerReport report;
  while (true) {
    const Clock::time_point asked = Clock::now();
    link.report(report);
    const int64_t task = link.next_assignment();
    if (task == kStopAssignment) return;
    report = WorkerReport();
    report.task = task;
    report.waited_seconds = seconds_since(asked);
    const Clock::time_point started = Clock::now();
    const TaskOutcome outcome = execute(task);
    report.seconds = seconds_since(started);
    report.failed = outcome.failed;
    report.out_of_space = outcome.out_of_space;
    report.message = outcome.message;
  }
}

WorkerSlots::WorkerSlots(int slots, std::function<Execute(int slot)> make_worker)
    : links_(std::make_shared<InProcessLinks>(slots)) {
  for (int slot = 0; slot < slots; ++slot)
    threads_.emplace_back([links = links_, make_worker, slot] {
      Execute execute;
      try {
        execute = make_worker(slot);
      } catch (const std::exception& error) {
        const std::string why =
            "slot " + std::to_string(slot) + " could not start: " + error.what();
        execute = [why](int64_t) { return TaskOutcome{true, why}; };
      }
      work(links->worker(slot), [&execute](int64_t task) {
        try {
          return execute(task);
        } catch (const std::exception& error) {
          return TaskOutcome{true, error.what()};
        }
      });
    });
}

WorkerSlots::~WorkerSlots() {
  bool running = false;
  for (const std::thread& thread : threads_) running = running || thread.joinable();
  if (!running) return;
  for (int slot = 0; slot < static_cast<int>(threads_.size()); ++slot)
    links_->coordinator().assign(slot, kStopAssignment);
  join();
}

void WorkerSlots::join() {
  for (std::thread& thread : threads_)
    if (thread.joinable()) thread.join();
}

void WorkerSlots::detach() {
  for (std::thread& thread : threads_)
    if (thread.joinable()) thread.detach();
}

}  // namespace robustscope
