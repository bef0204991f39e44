// The result store: atomic task files, verified resume, and the merged results file.
#include "engine/store/result_store.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.hpp"
#include "core/version.hpp"

namespace robustscope {
namespace fs = std::filesystem;
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text_atomically(const std::string& path, const std::string& text) {
  const std::string partial = path + ".partial";
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw Error(partial, "cannot write");
  }
  fs::rename(partial, path);
}

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

std::string stored_spec_text(const std::string& output, const std::string& task_dir) {
  if (fs::exists(task_dir + "/spec.yaml")) return read_text(task_dir + "/spec.yaml");
  if (fs::exists(output)) {
    const Hdf5File file(output, Hdf5File::Mode::kReadOnly);
    return std::get<std::string>(file.read_attribute("/", "spec_text"));
  }
  return "";
}

}  // namespace

bool verify_task(const Record& record, const Task& task, std::string& why) {
  try {
    if (record.text("status") != "completed") {
      why = "status " + record.text("status");
      return false;
    }
    if (record.text("key") != task.key) {
      why = "its key is " + record.text("key") + ", the plan's " + task.key;
      return false;
    }
    const auto ids = record.datasets.find("sample_ids");
    if (ids == record.datasets.end() ||
        !torch::equal(ids->second,
                      torch::arange(task.first_sample, task.first_sample + task.sample_count,
                                    torch::kInt64))) {
      why = "its sample ids do not match the plan";
      return false;
    }
    if (record.text("checksum") != record_checksum(record)) {
      why = "its data do not match the stored checksum";
      return false;
    }
  } catch (const Error& error) {
    why = error.what();
    return false;
  }
  return true;
}

ResultStore::ResultStore(std::string output) : output_(std::move(output)) {}

void ResultStore::open_for_run(const ExperimentSpec& spec, bool force) const {
  const std::string previous = stored_spec_text(output_, task_dir());
  if (!previous.empty() && previous != spec.text && !force) {
    throw Error(output_, "holds results of a different spec (stored spec hash " +
                             text_hash(previous) + ", " + spec.path + " hashes to " +
                             text_hash(spec.text) +
                             "); use another output, or --force to keep the tasks whose "
                             "settings are unchanged and recompute the rest");
  }
  fs::create_directories(task_dir() + "/tasks");
  fs::create_directories(task_dir() + "/runs");
  if (previous != spec.text) write_text_atomically(task_dir() + "/spec.yaml", spec.text);
}

std::map<std::string, Record> ResultStore::all_task_records() const {
  std::map<std::string, Record> records;
  if (fs::exists(output_)) {
    const Hdf5File file(output_, Hdf5File::Mode::kReadOnly);
    records = records_in(file, "/tasks");
  }
  for (const fs::path& path : h5_files(task_dir() + "/tasks")) {
    try {
      const Hdf5File file(path.string(), Hdf5File::Mode::kReadOnly);
      records[path.stem().string()] = read_record(file, "/");
    } catch (const Error&) {
      // Unreadable: left for completed_tasks to report; the task will be recomputed.
    }
  }
  return records;
}

std::map<std::string, Record> ResultStore::completed_tasks(const std::vector<Task>& plan,
                                                           std::vector<std::string>& notes) const {
  std::map<std::string, const Task*> planned;
  for (const Task& task : plan) planned[task.id] = &task;
  std::map<std::string, Record> completed;
  auto consider = [&](const std::string& id, Record record, const std::string& where) {
    const auto task = planned.find(id);
    if (task == planned.end()) return;  // not in this plan (a forced spec change)
    std::string why;
    if (verify_task(record, *task->second, why)) {
      completed[id] = std::move(record);
    } else if (record.has("status") && record.text("status") != "failed") {
      notes.push_back(where + ": task " + id + " is recomputed: " + why);
    }
  };
  if (fs::exists(output_)) {
    try {
      const Hdf5File file(output_, Hdf5File::Mode::kReadOnly);
      for (auto& [id, record] : records_in(file, "/tasks"))
        consider(id, std::move(record), output_);
    } catch (const Error& error) {
      notes.push_back(std::string(error.what()) + " (its tasks are taken from " + task_dir() + ")");
    }
  }
  for (const fs::path& path : h5_files(task_dir() + "/tasks")) {
    try {
      const Hdf5File file(path.string(), Hdf5File::Mode::kReadOnly);
      consider(path.stem().string(), read_record(file, "/"), path.string());
    } catch (const Error& error) {
      notes.push_back(std::string(error.what()) + ": recomputed");
    }
  }
  return completed;
}

void ResultStore::write_task(Record record) const {
  record.set("checksum", record_checksum(record));
  write_record_file(task_dir() + "/tasks/" + record.text("id") + ".h5", record);
}

void ResultStore::write_run(const Record& run) const {
  write_record_file(task_dir() + "/runs/" + run.text("run_id") + ".h5", run);
}

ResultStore::MergeSummary ResultStore::merge(
    const ExperimentSpec& spec, const std::map<std::string, AttributeValue>& provenance) const {
  const std::vector<Task> plan = plan_tasks(spec);
  std::vector<std::string> notes;
  const std::map<std::string, Record> completed = completed_tasks(plan, notes);
  const std::map<std::string, Record> all = all_task_records();
  std::map<std::string, Record> runs;
  if (fs::exists(output_)) {
    const Hdf5File file(output_, Hdf5File::Mode::kReadOnly);
    runs = records_in(file, "/runs");
  }
  for (const fs::path& path : h5_files(task_dir() + "/runs")) {
    const Hdf5File file(path.string(), Hdf5File::Mode::kReadOnly);
    runs[path.stem().string()] = read_record(file, "/");
  }

  MergeSummary summary;
  summary.planned = static_cast<int64_t>(plan.size());
  const std::string partial = output_ + ".partial";
  fs::remove(partial);
  {
    Hdf5File file(partial, Hdf5File::Mode::kCreate);
    for (const Task& task : plan) {
      const auto done = completed.find(task.id);
      if (done != completed.end()) {
        write_record(file, "/tasks/" + task.id, done->second);
        ++summary.completed;
        continue;
      }
      const auto found = all.find(task.id);
      if (found != all.end() && found->second.has("status") &&
          found->second.text("status") == "failed" && found->second.text("key") == task.key) {
        write_record(file, "/tasks/" + task.id, found->second);
        ++summary.failed;
      }
    }
    for (const auto& [id, run] : runs) write_record(file, "/runs/" + id, run);
    Record root;
    root.set("schema", std::string(kResultsSchema));
    root.set("name", spec.name);
    root.set("spec_text", spec.text);
    root.set("spec_hash", text_hash(spec.text));
    root.set("spec_path", spec.path);
    root.set("code_version", code_version());
    root.set("libtorch_version", libtorch_version());
    root.set("hdf5_version", hdf5_version());
    root.set("merged_at", utc_timestamp());
    root.set("tasks_planned", summary.planned);
    root.set("tasks_completed", summary.completed);
    root.set("tasks_failed", summary.failed);
    for (const auto& [name, value] : provenance) root.set(name, value);
    if (fs::exists(output_)) {  // what an earlier merge recorded and this one does not know
      const Hdf5File previous(output_, Hdf5File::Mode::kReadOnly);
      for (const std::string& name : previous.attribute_names("/"))
        if (!root.has(name)) root.set(name, previous.read_attribute("/", name));
    }
    write_record(file, "/", root);
  }
  fs::rename(partial, output_);
  return summary;
}

StoredResults read_results(const std::string& output) {
  StoredResults results;
  const std::string task_dir = output + ".d";
  if (fs::exists(output)) {
    const Hdf5File file(output, Hdf5File::Mode::kReadOnly);
    for (const std::string& name : file.attribute_names("/"))
      results.root[name] = file.read_attribute("/", name);
    if (!results.root.count("schema") || !results.root.count("spec_text"))
      throw Error(output, "is not a robustscope results file (no schema or spec_text)");
    results.schema = std::get<std::string>(results.root.at("schema"));
    if (results.schema != kResultsSchema)
      throw Error(output,
                  "schema " + results.schema + " (this version reads " + kResultsSchema + ")");
    results.spec_text = std::get<std::string>(results.root.at("spec_text"));
    if (results.root.count("spec_path"))
      results.spec_path = std::get<std::string>(results.root.at("spec_path"));
    results.tasks = records_in(file, "/tasks");
    for (auto& [id, run] : records_in(file, "/runs")) results.runs.push_back(std::move(run));
    return results;
  }
  if (!fs::exists(task_dir + "/spec.yaml"))
    throw Error(output, "no such results file (and no task folder " + task_dir + ")");
  results.schema = std::string(kResultsSchema) + " (task folder, not merged yet)";
  results.spec_text = read_text(task_dir + "/spec.yaml");
  results.spec_path = task_dir + "/spec.yaml";
  for (const fs::path& path : h5_files(task_dir + "/tasks")) {
    try {
      const Hdf5File file(path.string(), Hdf5File::Mode::kReadOnly);
      results.tasks[path.stem().string()] = read_record(file, "/");
    } catch (const Error&) {
      // An unreadable task file is a pending task.
    }
  }
  for (const fs::path& path : h5_files(task_dir + "/runs")) {
    const Hdf5File file(path.string(), Hdf5File::Mode::kReadOnly);
    results.runs.push_back(read_record(file, "/"));
  }
  return results;
}

}  // namespace robustscope
