// A spec's batch run and its model preparation over the ranks of an MpiCluster. Rank 0 checks
// everything that can refuse the run before any task (the output and its lock, the models and their
// hashes, the stored results, the data and every model's output), coordinates, and merges the
// results file; every rank (rank 0 on a thread of its own) runs tasks and writes their files.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/run/mpi_cluster.hpp"
#include "engine/spec/task_plan.hpp"

namespace robustscope {

constexpr int kMaxTasksInFlight = 64;

struct RunOptions {
  bool force = false;  // resume a store made by another spec or with changed model files
  std::string device;  // overrides the spec's device when not empty
  int threads = -1;    // overrides the spec's threads when >= 0
  // Tasks each rank runs at once, each on a thread (and GPU stream) of its own: 1 to
  // kMaxTasksInFlight, else the run is refused.
  int tasks_in_flight = 1;
  // Part `part` of `parts` of the sweep (run --part i/N): only its tasks (task_plan.hpp's
  // tasks_of_part), with any other parts running at once into the same output.
  int part = 0, parts = 1;
  bool progress = true;  // a line per finished task (else one every 10% of the run)
  std::function<void(const std::string&)> log = [](const std::string&) {};  // rank 0's lines
};

struct RunSummary {
  bool started = false;      // false when the run was refused (rank 0 threw) or on ranks > 0
  bool interrupted = false;  // SIGINT/SIGTERM: rank 0 stopped handing out tasks
  int interrupt_signal = 0;
  // Not empty when a result found no room (a full disk, a quota): why. The run stopped as an
  // interrupt does.
  std::string out_of_space;
  // When stopped early: the planned tasks whose files are in the task folder then.
  int64_t kept = 0;
  int64_t planned = 0, skipped = 0, computed = 0, failed = 0;
  double seconds = 0;
  double assignment_wait_seconds = 0;  // workers waiting for their next task, summed
  int64_t peak_in_flight = 0;          // the most tasks running at once
  std::vector<std::string> failures;   // "id key: message"
  std::string task_folder;
};

// Collective. Errors found before any task runs throw Error on rank 0 (the other ranks return a
// summary with started = false). When interrupted, or out of space, rank 0 returns at once with
// interrupted (or out_of_space) set: tasks in flight are abandoned (the caller ends the process
// without waiting for them).
RunSummary run_experiment(MpiCluster& cluster, ExperimentSpec spec, const RunOptions& options);

struct PrepareSummary {
  int64_t to_train = 0, trained = 0, failed = 0;
  std::vector<std::string> failures;
};

// Trains the spec's models whose checkpoints are missing, by their train: settings, through the
// same queue as a run (ranks take the next model as they free up). An existing checkpoint that is
// unreadable or was made for another data set is an Error before any training.
PrepareSummary prepare_models(MpiCluster& cluster, const ExperimentSpec& spec,
                              const RunOptions& options);

// The threads of each task a rank runs: the option, else the spec's, else the node's cores divided
// by its ranks and by the tasks each runs at once.
int threads_per_task(const ExperimentSpec& spec, const RunOptions& options, int ranks_on_node);

}  // namespace robustscope
