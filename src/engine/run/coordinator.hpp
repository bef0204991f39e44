// The MPI coordinator (the only module that includes mpi.h). Every rank calls run_experiment; rank
// 0 hands out tasks from a queue as workers free up (dynamic scheduling, preferring a task of the
// model a worker already holds), writes each result as it arrives, and merges the results file at
// the end. Rank 0 computes too, on a worker thread of its own, so N ranks give N workers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/spec/experiment_spec.hpp"

namespace robustscope {

// MPI_Init_thread / MPI_Finalize around a scope (rank 0's main thread alone calls MPI).
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  int rank() const { return rank_; }
  int size() const { return size_; }

 private:
  int rank_ = 0, size_ = 1;
};

struct RunOptions {
  bool force = false;    // resume from a store made by a different spec
  std::string device;    // overrides the spec's device when not empty
  int threads = -1;      // overrides the spec's threads when >= 0
  bool progress = true;  // a line per finished task
};

struct RunSummary {
  bool started = false;  // false when the run was refused before any task (rank 0 printed why)
  int64_t planned = 0, skipped = 0, computed = 0, failed = 0;
  double seconds = 0;
  double write_seconds = 0;            // rank 0 writing task files
  double assignment_wait_seconds = 0;  // workers waiting for their next task, summed
  std::vector<std::string> failures;   // "id key: message"
};

// Collective over MPI_COMM_WORLD. Rank 0 returns the summary; other ranks a summary with `started`.
// Errors found before any task runs (a missing model, a store of another spec) throw Error on rank
// 0 and make the other ranks return with started = false.
RunSummary run_experiment(const ExperimentSpec& spec, const RunOptions& options);

}  // namespace robustscope
