// The result store: task folders, verified resume, and the merged results file.
#include "engine/store/result_store.hpp"

#include <torch/types.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>

#include "core/error.hpp"
#include "core/runtime/files.hpp"
#include "core/train/recipes.hpp"
#include "core/version.hpp"
#include "engine/records/schema.hpp"

namespace robustscope {
namespace fs = std::filesystem;
namespace {

// The *.h5 files of a folder, by name.
std::vector<fs::path> h5_files(const fs::path& folder) {
  std::vector<fs::path> files;
  if (!fs::is_directory(folder)) return files;
  for (const auto& entry : fs::directory_iterator(folder))
    if (entry.is_regular_file() && entry.path().extension() == ".h5") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

// The records below a group of a merged file ("/tasks" or "/runs"), by their names.
std::map<std::string, Record> records_in(const Hdf5File& file, const std::string& group) {
  std::map<std::string, Record> records;
  if (!file.exists(group)) return records;
  for (const Hdf5File::Child& child : file.children(group))
    if (child.is_group) records[child.name] = read_record(file, group + "/" + child.name);
  return records;
}

std::string text_attribute(const std::map<std::string, AttributeValue>& attributes,
                           const std::string& name, const std::string& where) {
  const auto found = attributes.find(name);
  if (found == attributes.end()) throw Error(where, "has no attribute " + name);
  const auto* text = std::get_if<std::string>(&found->second);
  if (!text) throw Error(where, "attribute " + name + " is not text");
  return *text;
}

std::map<std::string, AttributeValue> root_attributes(const Hdf5File& file) {
  std::map<std::string, AttributeValue> root;
  for (const std::string& name : file.attribute_names("/"))
    root[name] = file.read_attribute("/", name);
  return root;
}

// Refuses a file that is not a results file of this schema version.
void check_schema(const std::map<std::string, AttributeValue>& root, const std::string& output) {
  if (!root.count(schema::kSchema) || !root.count(schema::kSpecText))
    throw Error(output, "is not a robustscope results file (no schema or spec_text)");
  const std::string version = text_attribute(root, schema::kSchema, output);
  if (version != schema::kResults)
    throw Error(output, "was written with schema " + version + "; this version of robustscope " +
                            "reads " + schema::kResults +
                            " only: rerun its spec to recompute the results (the file is left "
                            "as it is)");
}

}  // namespace

// ---------------------------------------------------------------- the task folder

TaskFolder::TaskFolder(std::string path) : path_(std::move(path)) {}

bool TaskFolder::exists() const { return fs::is_directory(path_); }

void TaskFolder::create() const {
  check_output_folder(path_ + "/tasks", "the task folder");
  check_output_folder(path_ + "/runs", "the task folder");
}

std::string TaskFolder::spec_text() const {
  const std::string file = path_ + "/spec.yaml";
  return fs::exists(file) ? read_text_file(file, kMaxSpecBytes) : "";
}

void TaskFolder::write_spec(const std::string& text) const {
  atomic_write_text(path_ + "/spec.yaml", text);
}

Record TaskFolder::models() const {
  const std::string file = path_ + "/models.h5";
  return fs::exists(file) ? read_record_file(file) : Record();
}

void TaskFolder::write_models(const Record& models) const {
  write_record_file(path_ + "/models.h5", models);
}

std::map<std::string, Record> TaskFolder::tasks(std::vector<std::string>* unreadable) const {
  std::map<std::string, Record> records;
  for (const fs::path& file : h5_files(path_ + "/tasks")) {
    try {
      records[file.stem().string()] = read_record_file(file.string());
    } catch (const Error& error) {
      if (unreadable) unreadable->push_back(error.what());
    }
  }
  return records;
}

std::map<std::string, Record> TaskFolder::runs() const {
  std::map<std::string, Record> records;
  for (const fs::path& file : h5_files(path_ + "/runs"))
    records[file.stem().string()] = read_record_file(file.string());
  return records;
}

bool TaskFolder::has_task_file(const std::string& id) const {
  return fs::exists(path_ + "/tasks/" + id + ".h5");
}

void TaskFolder::write_task(Record record) const {
  record.set(schema::kChecksum, record_checksum(record));
  write_record_file(path_ + "/tasks/" + record.text(schema::kId) + ".h5", record);
}

void TaskFolder::write_run(const Record& run) const {
  write_record_file(path_ + "/runs/" + run.text(schema::kRunId) + ".h5", run);
}

// ---------------------------------------------------------------- model resolution

Record model_resolution(const ExperimentSpec& spec) {
  Record models;
  for (size_t index = 0; index < spec.models.size(); ++index) {
    const ModelSpec& model = spec.models[index];
    models.set(schema::kModelIndex, static_cast<int64_t>(index), model.name);
    const ModelSpec* base = spec.base_of(model);
    models.set(schema::kModelBase, base ? base->name : std::string(), model.name);
    const bool defended = !model.recipe.empty() &&
                          recipe_is_adversarial(recipe_names().parse("recipe", model.recipe));
    models.set(schema::kModelDefended, static_cast<int64_t>(defended), model.name);
    models.set(schema::kModelKind, model.source.kind, model.name);
    models.set(schema::kModelPath, model.source.path, model.name);
    models.set(schema::kModelDataset, model.dataset, model.name);
    models.set(schema::kModelHash, model.content_hash, model.name);
    models.set(schema::kModelRecipe, model.recipe, model.name);
    if (model.batch_size > 0) models.set(schema::kModelBatchSize, model.batch_size, model.name);
    for (const auto& [key, value] : model.reparameterization.to_entries())
      models.set(schema::kReparameterizationPrefix + key, parse_number(key, value), model.name);
  }
  return models;
}

void apply_model_resolution(ExperimentSpec& spec, const Record& models) {
  for (ModelSpec& model : spec.models) {
    if (!models.has(schema::kModelHash, model.name))
      throw Error(spec.path, "the stored results know nothing of model " + model.name);
    model.dataset = models.text(schema::kModelDataset, model.name);
    model.content_hash = models.text(schema::kModelHash, model.name);
    if (models.has(schema::kModelRecipe, model.name))
      model.recipe = models.text(schema::kModelRecipe, model.name);
    if (models.has(schema::kModelBatchSize, model.name))  // files before batch_size: auto lack it
      model.batch_size = models.integer(schema::kModelBatchSize, model.name);
  }
}

// One group per setting ("0", "1", … in plan order): what a reader needs to name and judge it
// without re-deriving anything from keys or the spec text.
Record settings_table(const ExperimentSpec& spec, const std::vector<Task>& plan) {
  Record table;
  std::set<std::string> seen;
  for (const Task& task : plan) {
    if (!seen.insert(task.setting_key).second) continue;
    const Procedure& procedure = spec.procedures[task.procedure];
    const std::string path = std::to_string(seen.size() - 1);
    table.set(schema::kModel, spec.models[task.model].name, path);
    table.set(schema::kKind, std::string(procedure.kind()), path);
    table.set(schema::kKey, procedure.key(), path);
    table.set(schema::kSettingKey, task.setting_key, path);
    table.set(schema::kLabel, procedure.label(), path);
    table.set(schema::kFamily, procedure.family(), path);
    table.set(schema::kHeadlineNames, join(procedure.headline_names(), ","), path);
  }
  return table;
}

// ---------------------------------------------------------------- the store

bool verify_task(const Record& record, const Task& task, std::string& why) {
  try {
    if (record.text(schema::kStatus) !=
        schema::task_status_names().name(schema::TaskStatus::kCompleted)) {
      why = "status " + record.text(schema::kStatus);
      return false;
    }
    if (record.text(schema::kKey) != task.key) {
      why = "its key is " + record.text(schema::kKey) + ", the plan's " + task.key;
      return false;
    }
    const auto ids = record.datasets.find(schema::kSampleIds);
    if (ids == record.datasets.end() ||
        !torch::equal(ids->second,
                      torch::arange(task.first_sample, task.first_sample + task.sample_count,
                                    torch::kInt64))) {
      why = "its sample ids do not match the plan";
      return false;
    }
    if (record.text(schema::kChecksum) != record_checksum(record)) {
      why = "its data do not match the stored checksum";
      return false;
    }
  } catch (const Error& error) {
    why = error.what();
    return false;
  }
  return true;
}

ResultStore::ResultStore(std::string output)
    : output_(std::move(output)), folder_(output_ + ".d") {}

RecordedSpec ResultStore::recorded_spec() const {
  RecordedSpec recorded{folder_.spec_text(), folder_.models()};
  if (recorded.text.empty() && fs::exists(output_)) {
    StoredResults results = read_results(output_);
    recorded = {std::move(results.spec_text), std::move(results.models)};
  }
  return recorded;
}

Record ResultStore::recorded_models_of(const ExperimentSpec& spec) const {
  RecordedSpec recorded = recorded_spec();
  return recorded.text == spec.text ? std::move(recorded.models) : Record();
}

void ResultStore::check_compatible(const ExperimentSpec& spec, bool force) const {
  const RecordedSpec recorded = recorded_spec();
  const std::string& previous = recorded.text;
  const Record& stored_models = recorded.models;
  if (!previous.empty() && previous != spec.text && !force) {
    throw Error(output_, "holds results of a different spec (stored spec hash " +
                             text_hash(previous) + ", " + spec.path + " hashes to " +
                             text_hash(spec.text) +
                             "); use another output, or --force to keep the tasks whose "
                             "settings are unchanged and recompute the rest");
  }
  for (const ModelSpec& model : spec.models) {
    if (!stored_models.has(schema::kModelHash, model.name)) continue;
    const std::string stored = stored_models.text(schema::kModelHash, model.name);
    if (stored != model.content_hash && !force) {
      throw Error(output_, "model " + model.name + ": " + model.source.path +
                               " has changed since its stored results were computed (stored "
                               "hash " +
                               stored + ", now " + model.content_hash +
                               "); restore the file, use another output, or --force to recompute "
                               "that model's tasks");
    }
  }
}

void ResultStore::record_spec(const ExperimentSpec& spec) const {
  folder_.create();
  const FileLock writing(folder_.write_lock_path(), folder_.path(), LockMode::kExclusiveWaiting);
  if (folder_.spec_text() != spec.text) folder_.write_spec(spec.text);
  folder_.write_models(model_resolution(spec));
}

std::map<std::string, Record> ResultStore::completed_tasks(const std::vector<Task>& plan,
                                                           std::vector<std::string>& notes) const {
  std::map<std::string, const Task*> planned;
  for (const Task& task : plan) planned[task.id] = &task;
  std::map<std::string, Record> completed;
  auto consider = [&](const std::string& id, Record record, const std::string& where) {
    const auto task = planned.find(id);
    if (task == planned.end()) return;  // not in this plan (a forced change)
    std::string why;
    if (verify_task(record, *task->second, why)) {
      completed[id] = std::move(record);
    } else if (record.has(schema::kStatus) &&
               record.text(schema::kStatus) !=
                   schema::task_status_names().name(schema::TaskStatus::kFailed)) {
      notes.push_back(where + ": task " + id + " is recomputed: " + why);
    }
  };
  if (fs::exists(output_)) {
    try {
      const Hdf5File file(output_, Hdf5File::Mode::kReadOnly);
      for (auto& [id, record] : records_in(file, std::string("/") + schema::kTasksGroup))
        consider(id, std::move(record), output_);
    } catch (const Error& error) {
      notes.push_back(std::string(error.what()) + " (its tasks are taken from " + folder_.path() +
                      ")");
    }
  }
  std::vector<std::string> unreadable;
  for (auto& [id, record] : folder_.tasks(&unreadable))
    consider(id, std::move(record), folder_.path() + "/tasks/" + id + ".h5");
  for (const std::string& message : unreadable) notes.push_back(message + ": recomputed");
  return completed;
}

namespace {

// What the root says of the latest finished run (by its end time), from its run record: the merge
// at the end of a run and a standalone `merge` then write the same fields.
std::map<std::string, AttributeValue> last_run_provenance(
    const std::map<std::string, Record>& runs) {
  const Record* last = nullptr;
  for (const auto& [id, run] : runs)
    if (run.has(schema::kEnded) && (!last || run.text(schema::kEnded) > last->text(schema::kEnded)))
      last = &run;
  std::map<std::string, AttributeValue> fields;
  if (!last) return fields;
  const std::pair<const char*, const char*> copied[] = {
      {schema::kMpiVersion, schema::kMpiVersion},
      {schema::kBlas, schema::kBlas},
      {schema::kRankLayout, schema::kLastRunRankLayout},
      {schema::kStarted, schema::kLastRunStarted},
      {schema::kEnded, schema::kLastRunEnded}};
  for (const auto& [from, to] : copied)
    if (last->has(from)) fields[to] = last->text(from);
  return fields;
}

}  // namespace

ResultStore::MergeSummary ResultStore::merge(
    const ExperimentSpec& spec, const Alarms& alarms,
    const std::map<std::string, AttributeValue>& provenance) const {
  // Parts of a sweep finishing at once merge one after the other, each reading every task file
  // written before its turn: the last to merge writes every part's tasks.
  std::unique_ptr<FileLock> writing;
  if (fs::is_directory(folder_.path()))
    writing = std::make_unique<FileLock>(folder_.write_lock_path(), folder_.path(),
                                         LockMode::kExclusiveWaiting);
  const std::vector<Task> plan = plan_tasks(spec);
  std::vector<std::string> notes;
  const std::map<std::string, Record> completed = completed_tasks(plan, notes);
  const std::map<std::string, Record> all = folder_.tasks();
  std::map<std::string, Record> runs;
  std::map<std::string, AttributeValue> previous_root;
  if (fs::exists(output_)) {
    const Hdf5File file(output_, Hdf5File::Mode::kReadOnly);
    runs = records_in(file, std::string("/") + schema::kRunsGroup);
    previous_root = root_attributes(file);
  }
  for (auto& [id, run] : folder_.runs()) runs[id] = std::move(run);

  MergeSummary summary;
  summary.planned = static_cast<int64_t>(plan.size());
  const std::string failed_status = schema::task_status_names().name(schema::TaskStatus::kFailed);
  std::set<std::string> pending;  // "model setting" of the settings with tasks not yet computed
  atomic_replace(output_, [&](const std::string& partial) {
    pending.clear();
    Hdf5File file(partial, Hdf5File::Mode::kCreate);
    const std::string tasks = std::string("/") + schema::kTasksGroup + "/";
    for (const Task& task : plan) {
      const auto done = completed.find(task.id);
      if (done != completed.end()) {
        write_record(file, tasks + task.id, done->second);
        ++summary.completed;
        continue;
      }
      const auto found = all.find(task.id);
      if (found != all.end() && found->second.has(schema::kStatus) &&
          found->second.text(schema::kStatus) == failed_status &&
          found->second.text(schema::kKey) == task.key) {
        write_record(file, tasks + task.id, found->second);
        ++summary.failed;
        continue;
      }
      pending.insert(spec.models[task.model].name + " " + spec.procedures[task.procedure].key());
    }
    for (const auto& [id, run] : runs)
      write_record(file, std::string("/") + schema::kRunsGroup + "/" + id, run);
    write_record(file, std::string("/") + schema::kModelsGroup, model_resolution(spec));
    write_record(file, std::string("/") + schema::kSettingsGroup, settings_table(spec, plan));
    if (alarms) {
      StoredResults merged;
      merged.tasks = completed;
      write_record(file, std::string("/") + schema::kAlarmsGroup, alarms(spec, merged));
    }
    Record root;
    root.set(schema::kSchema, std::string(schema::kResults));
    root.set(schema::kName, spec.name);
    root.set(schema::kSpecText, spec.text);
    root.set(schema::kSpecHash, text_hash(spec.text));
    root.set(schema::kSpecPath, spec.path);
    root.set(schema::kCodeVersion, code_version());
    root.set(schema::kLibtorchVersion, libtorch_version());
    root.set(schema::kHdf5Version, hdf5_version());
    root.set(schema::kMergedAt, utc_timestamp());
    root.set(schema::kTasksPlanned, summary.planned);
    root.set(schema::kTasksCompleted, summary.completed);
    root.set(schema::kTasksFailed, summary.failed);
    // What the alarms and any reader of a partial file cannot have checked, one line each.
    std::string pending_text;
    for (const std::string& setting : pending) pending_text += setting + "\n";
    root.set(schema::kPendingSettings, pending_text);
    for (const auto& [name, value] : provenance) root.set(name, value);
    for (const auto& [name, value] : last_run_provenance(runs))
      if (!root.has(name)) root.set(name, value);
    for (const auto& [name, value] : previous_root)  // what an earlier merge knew and this one not
      if (!root.has(name)) root.set(name, value);
    write_record(file, "/", root);
    file.close();
  });
  return summary;
}

StoredResults read_results(const std::string& output) {
  StoredResults results;
  if (fs::exists(output)) {
    const Hdf5File file(output, Hdf5File::Mode::kReadOnly);
    results.root = root_attributes(file);
    check_schema(results.root, output);
    results.schema = text_attribute(results.root, schema::kSchema, output);
    results.spec_text = text_attribute(results.root, schema::kSpecText, output);
    if (results.root.count(schema::kSpecPath))
      results.spec_path = text_attribute(results.root, schema::kSpecPath, output);
    const std::string models = std::string("/") + schema::kModelsGroup;
    if (file.exists(models)) results.models = read_record(file, models);
    const std::string alarms = std::string("/") + schema::kAlarmsGroup;
    if (file.exists(alarms)) results.alarms = read_record(file, alarms);
    results.tasks = records_in(file, std::string("/") + schema::kTasksGroup);
    for (auto& [id, run] : records_in(file, std::string("/") + schema::kRunsGroup))
      results.runs.push_back(std::move(run));
    return results;
  }
  const TaskFolder folder(output + ".d");
  results.spec_text = folder.spec_text();
  if (results.spec_text.empty())
    throw Error(output, "no such results file (and no task folder " + folder.path() + ")");
  results.schema = std::string(schema::kResults) + " (task folder, not merged yet)";
  results.spec_path = folder.path() + "/spec.yaml";
  results.models = folder.models();
  results.tasks = folder.tasks();
  for (auto& [id, run] : folder.runs()) results.runs.push_back(std::move(run));
  return results;
}

ExperimentSpec stored_spec(const StoredResults& results, const std::string& output) {
  ExperimentSpec spec = parse_spec(results.spec_text,
                                   results.spec_path.empty() ? "(stored spec)" : results.spec_path);
  apply_model_resolution(spec, results.models);
  spec.output = output;
  return spec;
}

}  // namespace robustscope
