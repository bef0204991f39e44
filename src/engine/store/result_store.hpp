// The result store of a batch run (schema robustscope-results/1, docs/results.md).
//
// Only rank 0 writes. Each finished task becomes its own small HDF5 file in `<output>.d/tasks/`,
// written to a .partial name, synced and renamed, so a kill -9 at any moment loses at most the
// tasks in flight and never touches a completed one. `merge` assembles `<output>` from those files
// (again through a .partial file), at the end of every run and on demand. Resume reads both the
// task files and a previous `<output>`, and trusts a task only when its key matches the plan and
// its data match the checksum stored beside them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/spec/experiment_spec.hpp"
#include "engine/store/record.hpp"

namespace robustscope {

constexpr const char* kResultsSchema = "robustscope-results/1";

class ResultStore {
 public:
  explicit ResultStore(std::string output);

  const std::string& output() const { return output_; }
  std::string task_dir() const { return output_ + ".d"; }

  // Prepares the task folder for `spec`. A store made by a different spec (by its exact text) is
  // refused with an Error unless `force`; then tasks whose keys still match are reused.
  void open_for_run(const ExperimentSpec& spec, bool force) const;

  // Verified completed tasks of `plan` (id → record); `notes` receives what was found unusable.
  std::map<std::string, Record> completed_tasks(const std::vector<Task>& plan,
                                                std::vector<std::string>& notes) const;
  // Every task record found (completed or failed, verified or not), by id.
  std::map<std::string, Record> all_task_records() const;

  // Stamps the checksum and writes the task's file atomically.
  void write_task(Record record) const;
  void write_run(const Record& run) const;

  struct MergeSummary {
    int64_t planned = 0, completed = 0, failed = 0;
  };
  // Writes `<output>` from the verified tasks of `spec`'s plan, failed ones and the run records;
  // `provenance` adds root attributes (the MPI version, the last run's layout and times).
  MergeSummary merge(const ExperimentSpec& spec,
                     const std::map<std::string, AttributeValue>& provenance = {}) const;

 private:
  std::string output_;
};

// True when `record` is a completed result of `task`: same key, sample ids, and data matching the
// stored checksum. `why` says what did not match.
bool verify_task(const Record& record, const Task& task, std::string& why);

// Reads a merged results file or, when it does not exist (yet), the task folder beside it: the
// spec text and every task and run record. Used by inspect.
struct StoredResults {
  std::string schema, spec_text, spec_path;
  std::map<std::string, AttributeValue> root;  // the root's attributes
  std::map<std::string, Record> tasks;         // by id
  std::vector<Record> runs;
};
StoredResults read_results(const std::string& output);

}  // namespace robustscope
