// How the coordinator and its workers talk, apart from any transport: workers report (ready, or a
// task finished) and receive assignments. No results travel: a worker writes its task's file
// itself. MpiCluster (mpi_cluster.hpp) carries the same messages over MPI; InProcessLinks carries
// them between threads of one process (rank 0's own worker, tests, the coordinator benchmark).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace robustscope {

// Worker → coordinator: ready (task = -1) or finished `task`.
struct WorkerReport {
  int worker = 0;
  int64_t task = -1;
  bool failed = false;
  // The task's result could not be stored for lack of room: no later task could be either, so the
  // run stops as an interrupt does (keeping what is complete).
  bool out_of_space = false;
  double seconds = 0;         // the task's time
  double waited_seconds = 0;  // how long the worker waited for this task's assignment
  std::string message;        // a failure's message
};

constexpr int64_t kStopAssignment = -1;

class CoordinatorLink {
 public:
  virtual ~CoordinatorLink() = default;
  virtual int workers() const = 0;
  // The next report from any worker, waiting at most `timeout`; nullopt when none came.
  virtual std::optional<WorkerReport> receive(std::chrono::microseconds timeout) = 0;
  // A task index, or kStopAssignment.
  virtual void assign(int worker, int64_t task) = 0;
};

class WorkerLink {
 public:
  virtual ~WorkerLink() = default;
  virtual void report(const WorkerReport& report) = 0;
  virtual int64_t next_assignment() = 0;  // blocks until the coordinator answers
};

// Links between threads: one coordinator end, `workers` worker ends.
class InProcessLinks {
 public:
  explicit InProcessLinks(int workers);
  CoordinatorLink& coordinator() { return *coordinator_; }
  WorkerLink& worker(int index) { return *workers_.at(static_cast<size_t>(index)); }
  // Non-blocking: the next report if one is waiting (for links that poll several sources).
  std::optional<WorkerReport> poll();
  // The next report, waiting at most `timeout`.
  std::optional<WorkerReport> wait(std::chrono::microseconds timeout);

 private:
  struct Shared;
  class Coordinator;
  class Worker;
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<CoordinatorLink> coordinator_;
  std::vector<std::unique_ptr<WorkerLink>> workers_;
};

}  // namespace robustscope
