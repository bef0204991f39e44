// The result store of a batch run (schema robustscope-results/2, docs/results.md).
//
// Each finished task becomes its own small HDF5 file in `<output>.d/tasks/`, written by the worker
// that computed it through atomic_replace, so a kill -9 at any moment loses at most the tasks in
// flight and never touches a completed one. `merge` assembles `<output>` from those files (again
// atomically), at the end of every run and on demand. Resume trusts a task only when its key
// matches the plan and its data match the checksum stored beside them. The folder also keeps the
// spec's text and the model files' data sets and hashes, so the results file and the folder are
// self-contained: every command that reads them works without the spec or the models.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/records/record.hpp"
#include "engine/spec/task_plan.hpp"

namespace robustscope {

// `<output>.d/`: spec.yaml, models.h5, tasks/<id>.h5, runs/<id>.h5 and the run lock.
class TaskFolder {
 public:
  explicit TaskFolder(std::string path);

  const std::string& path() const { return path_; }
  bool exists() const;
  // Held by a run (exclusively; shared by the parts of a sweep run with --part) and by merge.
  std::string lock_path() const { return path_ + "/lock"; }
  // Held by the one run of part `part` of `parts`.
  std::string part_lock_path(int part, int parts) const {
    return path_ + "/lock.part-" + std::to_string(part) + "-of-" + std::to_string(parts);
  }
  // Serialises the writes of the folder's shared files (spec, models) and of the merged file, which
  // parts running at once would otherwise race on; each waits its turn.
  std::string write_lock_path() const { return path_ + "/write.lock"; }
  void create() const;

  std::string spec_text() const;  // "" when there is none yet
  void write_spec(const std::string& text) const;
  // The model files' resolution: the group "<name>" of each model with its kind, path, data set
  // and hash. An empty record when none was written.
  Record models() const;
  void write_models(const Record& models) const;

  // Every task record, by id; files that cannot be read are named in `unreadable`.
  std::map<std::string, Record> tasks(std::vector<std::string>* unreadable = nullptr) const;
  std::map<std::string, Record> runs() const;
  // Stamps the checksum and writes the task's file atomically (any process may call it).
  void write_task(Record record) const;
  // Whether tasks/<id>.h5 exists (written whole: files are only ever renamed into place).
  bool has_task_file(const std::string& id) const;
  void write_run(const Record& run) const;

 private:
  std::string path_;
};

// The models of a resolved spec as a Record (group per model: kind, path, dataset, hash).
Record model_resolution(const ExperimentSpec& spec);
// Per setting of the plan (groups "0", "1", …): model, kind, key, setting_key, label, family and
// headline_names (comma-separated, display order): what readers take instead of re-deriving.
Record settings_table(const ExperimentSpec& spec, const std::vector<Task>& plan);
// Applies a stored resolution to a spec parsed from stored text (datasets and hashes).
void apply_model_resolution(ExperimentSpec& spec, const Record& models);

// What earlier runs recorded of their spec: its exact text ("" when none) and its models'
// resolution (model_resolution).
struct RecordedSpec {
  std::string text;
  Record models;
};

struct StoredResults;  // below

class ResultStore {
 public:
  explicit ResultStore(std::string output);

  const std::string& output() const { return output_; }
  const TaskFolder& folder() const { return folder_; }

  // Refuses (Error naming what differs) a store made by a different spec (by its exact text), or
  // whose model files have changed since, unless `force`: then tasks whose keys still match are
  // reused and the rest recomputed. Writes nothing.
  void check_compatible(const ExperimentSpec& spec, bool force) const;
  // The task folder's record, else the merged output's; empty when neither exists.
  RecordedSpec recorded_spec() const;
  // The models' resolution recorded for exactly `spec`'s text (empty for another spec or none):
  // what `batch_size: auto` reuses, so a resumed run keeps its batch sizes.
  Record recorded_models_of(const ExperimentSpec& spec) const;
  // Records `spec` (models resolved) in the task folder, creating it.
  void record_spec(const ExperimentSpec& spec) const;

  // Verified completed tasks of `plan` (id → record); `notes` receives what was found unusable.
  std::map<std::string, Record> completed_tasks(const std::vector<Task>& plan,
                                                std::vector<std::string>& notes) const;

  struct MergeSummary {
    int64_t planned = 0, completed = 0, failed = 0;
  };
  // What the layers above the store add to a merged file from its completed tasks: the analysis
  // layer's gradient-masking alarms (engine/analysis/masking_alarms.hpp's alarms_of).
  using Alarms = std::function<Record(const ExperimentSpec& spec, const StoredResults& completed)>;
  // Writes `<output>` from the verified tasks of `spec`'s plan, failed ones, the run records, the
  // model resolution, the settings table and, when given, `alarms` of the completed tasks;
  // `provenance` adds root attributes. On a write failure (a full disk) `<output>` is left as it
  // was and no partial file remains.
  MergeSummary merge(const ExperimentSpec& spec, const Alarms& alarms = {},
                     const std::map<std::string, AttributeValue>& provenance = {}) const;

 private:
  std::string output_;
  TaskFolder folder_;
};

// True when `record` is a completed result of `task`: same key, sample ids, and data matching the
// stored checksum. `why` says what did not match.
bool verify_task(const Record& record, const Task& task, std::string& why);

// What a merged results file or, when it does not exist (yet), the task folder beside it holds.
struct StoredResults {
  std::string schema, spec_text, spec_path;
  std::map<std::string, AttributeValue> root;  // the root's attributes
  Record models;                               // the model resolution
  std::map<std::string, Record> tasks;         // by id
  std::vector<Record> runs;
  std::optional<Record> alarms;  // a merged file's gradient-masking alarms (masking_alarms.hpp)
};
// Refuses a file of another schema version with an Error naming both versions.
StoredResults read_results(const std::string& output);
// The spec the results were made by, planned from the stored text and model resolution alone.
ExperimentSpec stored_spec(const StoredResults& results, const std::string& output);

}  // namespace robustscope
