// The batch run and model preparation over MPI ranks.
#include "engine/run/batch_run.hpp"

#include <torch/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <set>
#include <sstream>

#include "core/certify/bounds.hpp"
#include "core/error.hpp"
#include "core/models/checkpoint.hpp"
#include "core/runtime/device.hpp"
#include "core/runtime/files.hpp"
#include "core/runtime/own_stream.hpp"
#include "core/settings.hpp"
#include "core/train/training_job.hpp"
#include "core/version.hpp"
#include "engine/analysis/masking_alarms.hpp"
#include "engine/records/schema.hpp"
#include "engine/run/coordination.hpp"
#include "engine/run/interrupt.hpp"
#include "engine/run/task_runner.hpp"
#include "engine/store/result_store.hpp"

namespace robustscope {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// "0:42", "12:05", "1:02:03".
std::string duration_text(double seconds) {
  const int64_t total = static_cast<int64_t>(seconds + 0.5);
  char text[32];
  if (total >= 3600)
    std::snprintf(text, sizeof(text), "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
  else
    std::snprintf(text, sizeof(text), "%ld:%02ld", total / 60, total % 60);
  return text;
}

// Elapsed time and what remains at the pace so far.
class Progress {
 public:
  explicit Progress(int64_t total) : total_(total), start_(Clock::now()) {}
  std::string note(int64_t finished) const {
    const double elapsed = seconds_since(start_);
    std::string text = duration_text(elapsed) + " elapsed";
    if (finished > 0 && finished < total_)
      text += ", ~" +
              duration_text(elapsed / static_cast<double>(finished) *
                            static_cast<double>(total_ - finished)) +
              " left";
    return text;
  }

 private:
  int64_t total_;
  Clock::time_point start_;
};

// Model resolution as text for the other ranks: "dataset\thash\trecipe" lines, in model order.
std::string resolution_text(const ExperimentSpec& spec) {
  std::string text;
  for (const ModelSpec& model : spec.models)
    text += model.dataset + "\t" + model.content_hash + "\t" + std::to_string(model.batch_size) +
            "\t" + model.recipe + "\n";
  return text;
}

void apply_resolution_text(ExperimentSpec& spec, const std::string& text) {
  std::istringstream lines(text);
  std::string line;
  for (ModelSpec& model : spec.models) {
    if (!std::getline(lines, line)) throw Error("MPI", "the model resolution is truncated");
    const size_t first = line.find('\t'), second = line.find('\t', first + 1),
                 third = line.find('\t', second + 1);
    if (third == std::string::npos) throw Error("MPI", "a model resolution line is malformed");
    model.dataset = line.substr(0, first);
    model.content_hash = line.substr(first + 1, second - first - 1);
    model.batch_size = std::stoll(line.substr(second + 1, third - second - 1));
    model.recipe = line.substr(third + 1);
  }
}

// Everything the pending tasks read, checked once before any runs: each data split loads and holds
// the samples; each model (and substitute) loads, fits its data set and gives [N, K] logits.
void check_inputs(const ExperimentSpec& spec, const std::vector<Task>& plan,
                  const std::vector<size_t>& pending, torch::Device device) {
  std::set<size_t> models, bounded;
  std::set<std::string> datasets;
  int64_t last_sample = 0;
  for (size_t index : pending) {
    const Task& task = plan[index];
    const Procedure& procedure = spec.procedures[task.procedure];
    if (!procedure.needs_model()) continue;
    models.insert(task.model);
    if (std::holds_alternative<CertifyProcedure>(procedure.settings)) bounded.insert(task.model);
    if (const auto* transfer = std::get_if<TransferProcedure>(&procedure.settings)) {
      for (size_t m = 0; m < spec.models.size(); ++m)
        if (spec.models[m].name == transfer->substitute) models.insert(m);
    }
    datasets.insert(spec.models[task.model].dataset);
    last_sample = std::max(last_sample, task.first_sample + task.sample_count);
  }
  for (const std::string& name : datasets) {
    const Dataset data = load_dataset(name, spec.data_dir, spec.samples.split);
    if (last_sample > data.size())
      throw Error(spec.path + ": samples", "offset " + std::to_string(spec.samples.offset) +
                                               " + count " + std::to_string(spec.samples.count) +
                                               " reaches sample " +
                                               std::to_string(last_sample - 1) + ", beyond the " +
                                               std::to_string(data.size()) + " samples of " + name +
                                               "/" + spec.samples.split + " (" + data.source + ")");
  }
  for (size_t m : models) {
    const ModelSpec& model = spec.models[m];
    std::unique_ptr<Classifier> loaded;
    try {
      loaded = load_spec_model(model, device);
    } catch (const Error& error) {
      throw Error(model.location, "model " + model.name + ": " + error.what());
    }
    std::string why;
    const InputShape shape = dataset_info(model.dataset).shape;
    if (bounded.count(m) && !can_bound(*loaded, {shape.channels, shape.height, shape.width}, why))
      throw Error(model.location, "model " + model.name + " cannot be certified: " + why);
  }
}

// Deletes .partial files a killed writer left in the task folder: every one for a whole run (its
// lock says none is writing), those of its own tasks for a part (other parts may be writing).
void remove_partial_files(const TaskFolder& folder, const std::vector<Task>& plan,
                          const std::vector<bool>& mine, bool whole_run) {
  if (!whole_run) {
    for (size_t i = 0; i < plan.size(); ++i)
      if (mine[i]) fs::remove(folder.path() + "/tasks/" + plan[i].id + ".h5.partial");
    return;
  }
  for (const auto& entry : fs::directory_iterator(folder.path()))  // tokens of killed runs
    if (entry.path().filename().string().rfind("visible.", 0) == 0) fs::remove(entry.path());
  for (const char* sub : {"/tasks", "/runs"}) {
    const fs::path dir = folder.path() + sub;
    if (!fs::is_directory(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.path().extension() == ".partial") fs::remove(entry.path());
  }
}

// The run's locks: the output's, exclusive for a whole run and shared by the parts of a sweep,
// and a part's own, so that one part runs once at a time.
std::vector<std::unique_ptr<FileLock>> take_locks(const ResultStore& store,
                                                  const RunOptions& options) {
  std::vector<std::unique_ptr<FileLock>> locks;
  const TaskFolder& folder = store.folder();
  if (options.parts == 1) {
    locks.push_back(std::make_unique<FileLock>(folder.lock_path(), store.output()));
    return locks;
  }
  locks.push_back(
      std::make_unique<FileLock>(folder.lock_path(), store.output(), LockMode::kShared));
  locks.push_back(std::make_unique<FileLock>(folder.part_lock_path(options.part, options.parts),
                                             "part " + std::to_string(options.part) + "/" +
                                                 std::to_string(options.parts) + " of " +
                                                 store.output()));
  return locks;
}

// A worker: runs tasks of the plan and writes each one's file itself. With several in flight on a
// rank, each is a slot on a thread of its own with its own stream on a GPU.
class TaskWorker {
 public:
  TaskWorker(const ExperimentSpec& spec, const std::vector<Task>& plan, const TaskFolder& folder,
             torch::Device device, int threads, int rank)
      : plan_(plan),
        folder_(folder),
        runner_(spec, device),
        device_(device),
        threads_(threads),
        rank_(rank) {}

  TaskOutcome operator()(int64_t index) {
    Record record = runner_.run(plan_.at(static_cast<size_t>(index)));
    record.set(schema::kRank, static_cast<int64_t>(rank_));
    record.set(schema::kHost, host_name());
    record.set(schema::kDevice, c10::str(device_));
    record.set(schema::kThreads, static_cast<int64_t>(threads_));
    TaskOutcome outcome;
    outcome.failed = record.text(schema::kStatus) !=
                     schema::task_status_names().name(schema::TaskStatus::kCompleted);
    if (outcome.failed) outcome.message = record.text(schema::kMessage);
    try {
      // One HDF5 writer per process at a time: a cluster's HDF5 need not be built thread-safe.
      static std::mutex writing;
      const std::lock_guard<std::mutex> lock(writing);
      folder_.write_task(std::move(record));
    } catch (const std::exception& error) {
      outcome.failed = true;
      outcome.message = std::string("its result could not be written: ") + error.what();
      outcome.out_of_space = reports_full_disk(error.what());
      if (outcome.out_of_space)
        outcome.message = folder_.path() + ": no room to store results (" +
                          free_space_text(folder_.path()) + " on its file system; " + error.what() +
                          ")";
    }
    return outcome;
  }

 private:
  const std::vector<Task>& plan_;
  const TaskFolder& folder_;
  TaskRunner runner_;
  torch::Device device_;
  int threads_;
  int rank_;
};

// What each of a rank's slots runs: a TaskWorker over shared copies of what it reads (an
// interrupted run leaves its threads behind), with a stream of its own when several are in flight.
std::function<WorkerSlots::Execute(int slot)> task_workers(const ExperimentSpec& spec,
                                                           const std::vector<Task>& plan,
                                                           const TaskFolder& folder,
                                                           torch::Device device, int threads,
                                                           int rank, int slots) {
  struct Inputs {
    ExperimentSpec spec;
    std::vector<Task> plan;
    TaskFolder folder;
  };
  const auto inputs = std::make_shared<const Inputs>(Inputs{spec, plan, folder});
  return [inputs, device, threads, rank, slots](int) -> WorkerSlots::Execute {
    configure_threads(threads);  // OpenMP's count is per thread: set it on this one too
    // One task at a time keeps the device's default stream (what CUDA graph capture expects from
    // the caller); several overlap on streams of their own.
    const std::shared_ptr<OwnStream> stream =
        slots > 1 ? std::make_shared<OwnStream>(device) : nullptr;
    const auto worker = std::make_shared<TaskWorker>(inputs->spec, inputs->plan, inputs->folder,
                                                     device, threads, rank);
    return [inputs, stream, worker](int64_t task) { return (*worker)(task); };
  };
}

// Proof that every rank sees the output's task folder (a node-local folder would take tasks and
// then fail to store them): rank 0 writes a token of this run into it, every rank reads it back.
std::string write_visibility_token(const TaskFolder& folder) {
  const std::string path = folder.path() + "/visible." + host_name() + "-" +
                           std::to_string(getpid()) + "." + std::to_string(std::random_device()());
  atomic_write_text(path, path);
  return path;
}

// "" when `token` (a path that holds its own name) reads back here, else why not.
std::string visibility_problem(const std::string& token) {
  std::ifstream in(token);
  if (!in) {
    const int error = errno;
    std::error_code ignored;
    const fs::path folder = fs::path(token).parent_path();
    return folder.string() + ": " +
           (fs::is_directory(folder, ignored)
                ? "the folder exists here but not rank 0's file in it (" +
                      std::string(std::strerror(error)) + "): a folder of the same name, not shared"
                : "the folder does not exist on this host (" + std::string(std::strerror(error)) +
                      ")");
  }
  std::string text((std::istreambuf_iterator<char>(in)), {});
  return text == token ? "" : token + ": reads back other text than rank 0 wrote";
}

std::string device_text(const ExperimentSpec& spec, const RunOptions& options) {
  return options.device.empty() ? spec.device : options.device;
}

}  // namespace

int threads_per_task(const ExperimentSpec& spec, const RunOptions& options, int ranks_on_node) {
  if (options.threads >= 0) return options.threads;
  if (spec.threads > 0) return spec.threads;
  return std::max(
      1, available_cores() / std::max(ranks_on_node, 1) / std::max(options.tasks_in_flight, 1));
}

namespace {

// What rank 0's preflight decides: the run's locks, its plan and part, what is left to compute.
struct PreparedRun {
  std::vector<std::unique_ptr<FileLock>> locks;
  std::vector<Task> plan;
  std::vector<bool> mine;       // the tasks of this run's part (all of them without --part)
  std::vector<size_t> pending;  // plan indices of this part's tasks not yet complete
  std::vector<std::string> notes;
  std::string token;  // write_visibility_token's file
};

// Rank 0: everything that can refuse the run, before any task; Error when it is refused.
PreparedRun preflight(ExperimentSpec& spec, const ResultStore& store, const RunOptions& options) {
  if (options.tasks_in_flight < 1 || options.tasks_in_flight > kMaxTasksInFlight)
    throw Error("tasks in flight", "must be 1 to " + std::to_string(kMaxTasksInFlight) + ", got " +
                                       std::to_string(options.tasks_in_flight));
  if (fs::is_directory(spec.output) || spec.output.back() == '/')
    throw Error("output", "\"" + spec.output + "\" is a folder: name the results file in it");
  check_output_folder(fs::absolute(spec.output).parent_path().string(), "output");
  check_output_path(spec.output, /*force=*/true, "output");
  check_output_folder(store.folder().path(), "the task folder");
  parse_device(device_text(spec, options));
  resolve_models(spec, /*allow_missing=*/false);
  check_procedures_against_data(spec);
  store.check_compatible(spec, options.force);
  resolve_batch_sizes(spec, store.recorded_models_of(spec), options.log);
  PreparedRun run;
  run.plan = plan_tasks(spec);
  run.mine = tasks_of_part(spec, run.plan, options.part, options.parts);
  run.locks = take_locks(store, options);
  remove_partial_files(store.folder(), run.plan, run.mine, options.parts == 1);
  const std::map<std::string, Record> done = store.completed_tasks(run.plan, run.notes);
  for (size_t i = 0; i < run.plan.size(); ++i)
    if (run.mine[i] && !done.count(run.plan[i].id)) run.pending.push_back(i);
  check_inputs(spec, run.plan, run.pending, device_for_local_rank(device_text(spec, options), 0));
  store.record_spec(spec);
  run.token = write_visibility_token(store.folder());
  return run;
}

// Rank 0's preflight, its verdict sent to every rank once ("ok", the token and the model
// resolution, or "refused" and why); the other ranks apply the resolution and plan. False on the
// ranks above 0 when refused; rank 0 throws the refusal.
bool agree_to_run(MpiCluster& cluster, ExperimentSpec& spec, const ResultStore& store,
                  const RunOptions& options, PreparedRun& run) {
  std::string verdict;
  if (cluster.rank() == 0) {
    try {
      run = preflight(spec, store, options);
      verdict = "ok\n" + run.token + "\n" + resolution_text(spec);
    } catch (const Error& error) {
      verdict = std::string("refused\n") + error.what();
    }
  }
  verdict = cluster.broadcast(verdict);
  if (verdict.rfind("ok\n", 0) != 0) {
    if (cluster.rank() == 0) throw Error(verdict.substr(verdict.find('\n') + 1));
    return false;
  }
  if (cluster.rank() != 0) {
    const size_t token_end = verdict.find('\n', 3);
    run.token = verdict.substr(3, token_end - 3);
    apply_resolution_text(spec, verdict.substr(token_end + 1));
    run.plan = plan_tasks(spec);
  }
  return true;
}

// Every rank's layout line (on rank 0; "" elsewhere), once every rank has read the token back;
// Error on rank 0 naming the first rank that could not, false on the others.
bool gather_layout(MpiCluster& cluster, const std::string& line, const PreparedRun& run,
                   const std::string& output, std::vector<std::string>& layout) {
  layout = cluster.gather(line + "\t" + visibility_problem(run.token));
  std::string unseen;
  if (cluster.rank() == 0) {
    std::error_code ignored;
    fs::remove(run.token, ignored);
    for (size_t r = 0; r < layout.size(); ++r) {
      const size_t tab = layout[r].find('\t');
      const std::string problem = layout[r].substr(tab + 1);
      layout[r].resize(tab);
      if (!problem.empty() && unseen.empty())
        unseen = "rank " + std::to_string(r) + " on host " +
                 layout[r].substr(0, layout[r].find(' ')) +
                 " does not see the output's task folder: " + problem +
                 "; put the output on a file system every node sees (docs/cluster.md)";
    }
  }
  if (cluster.broadcast(unseen).empty()) return true;
  if (cluster.rank() == 0) throw Error(output, unseen);
  return false;
}

// Rank 0's first lines: notes, and what the run will do.
void log_start(const ExperimentSpec& spec, const RunOptions& options, const PreparedRun& run,
               const RunSummary& summary, const ThreadSettings& threads, torch::Device device,
               int ranks) {
  const int slots = std::max(options.tasks_in_flight, 1);
  if (!threads.warning.empty()) options.log("note: " + threads.warning);
  if (slots > 1 && device.is_cpu() && slots * threads.threads > available_cores())
    options.log("note: " + std::to_string(slots) + " tasks in flight × " +
                std::to_string(threads.threads) + " thread(s) share rank 0's " +
                std::to_string(available_cores()) +
                " core(s) (mpirun binds each rank to one core when it starts two or fewer: add "
                "--bind-to none)");
  for (const std::string& note : run.notes) options.log("note: " + note);
  const std::string part_text = options.parts == 1
                                    ? ""
                                    : "part " + std::to_string(options.part) + "/" +
                                          std::to_string(options.parts) + " (of " +
                                          std::to_string(run.plan.size()) + " tasks in all): ";
  options.log(spec.name + ": " + part_text + std::to_string(summary.planned) + " tasks, " +
              std::to_string(summary.skipped) + " already complete, " +
              std::to_string(run.pending.size()) + " to run on " + std::to_string(ranks) + " rank" +
              (ranks == 1 ? "" : "s") +
              (slots > 1 ? ", " + std::to_string(slots) + " tasks in flight on each" : ""));
}

// What rank 0 does with each worker report: counts it and prints a progress line.
std::function<void(const WorkerReport&)> progress_reporter(const std::vector<Task>& plan,
                                                           const RunOptions& options,
                                                           int64_t to_run, RunSummary& summary) {
  const int slots = std::max(options.tasks_in_flight, 1);
  auto progress = std::make_shared<Progress>(to_run);
  auto counts = std::make_shared<std::pair<int64_t, int64_t>>(0, 1);  // finished, next milestone
  return [&plan, &options, &summary, slots, to_run, progress, counts](const WorkerReport& report) {
    int64_t& finished = counts->first;
    int64_t& next_milestone = counts->second;
    ++finished;
    const Task& task = plan[static_cast<size_t>(report.task)];
    if (report.failed) {
      ++summary.failed;
      summary.failures.push_back(task.id + " " + task.key + ": " + report.message);
    } else {
      ++summary.computed;
    }
    const bool milestone = finished * 10 >= next_milestone * to_run;
    if (milestone) ++next_milestone;
    if (!options.progress && !report.failed && !milestone) return;
    char line[160];
    std::snprintf(line, sizeof(line), "[%ld/%ld] %s ", finished, to_run,
                  report.failed ? "FAILED" : "done");
    char tail[96];
    if (slots == 1)
      std::snprintf(tail, sizeof(tail), " (%.1f s, rank %d) | ", report.seconds, report.worker);
    else
      std::snprintf(tail, sizeof(tail), " (%.1f s, rank %d slot %d) | ", report.seconds,
                    report.worker / slots, report.worker % slots);
    options.log(line + task.key + tail + progress->note(finished) +
                (report.failed ? ": " + report.message : ""));
  };
}

// The run's record in the task folder (merge takes the results file's provenance from it).
Record run_record(const std::string& started, const RunSummary& summary, const RunOptions& options,
                  const ExperimentSpec& spec, const std::vector<std::string>& layout,
                  const MpiCluster& cluster, const ThreadSettings& threads) {
  std::string layout_text;  // "rank: host device threads; …"
  for (size_t r = 0; r < layout.size(); ++r)
    layout_text += (r ? "; " : "") + std::to_string(r) + ": " + layout[r];
  Record run;
  // Parts on several hosts may start in the same second with the same process id.
  run.set(schema::kRunId, started + "-" + host_name() + "-" + std::to_string(getpid()) +
                              (options.parts == 1 ? "" : "-part-" + std::to_string(options.part)));
  if (options.parts > 1)
    run.set(schema::kPart, std::to_string(options.part) + "/" + std::to_string(options.parts));
  run.set(schema::kStarted, started);
  run.set(schema::kEnded, utc_timestamp());
  run.set(schema::kSeconds, summary.seconds);
  run.set(schema::kRanks, static_cast<int64_t>(cluster.size()));
  run.set(schema::kRankLayout, layout_text);
  run.set(schema::kMpiVersion, cluster.library_version());
  run.set(schema::kCodeVersion, code_version());
  run.set(schema::kLibtorchVersion, libtorch_version());
  run.set(schema::kBlas, threads.blas);
  run.set(schema::kTasksPlanned, summary.planned);
  run.set(schema::kTasksSkipped, summary.skipped);
  run.set(schema::kTasksComputed, summary.computed);
  run.set(schema::kTasksFailed, summary.failed);
  run.set(schema::kForced, static_cast<int64_t>(options.force));
  run.set(schema::kDataDir, spec.data_dir);
  run.set(schema::kAssignmentWaitSeconds, summary.assignment_wait_seconds);
  return run;
}

}  // namespace

RunSummary run_experiment(MpiCluster& cluster, ExperimentSpec spec, const RunOptions& options) {
  const Clock::time_point start = Clock::now();
  const std::string started = utc_timestamp();
  const ResultStore store(spec.output);
  const ThreadSettings threads =
      configure_threads(threads_per_task(spec, options, cluster.local_size()));
  const int slots = std::max(options.tasks_in_flight, 1);
  RunSummary summary;
  summary.task_folder = store.folder().path();
  PreparedRun run;
  if (!agree_to_run(cluster, spec, store, options, run)) return summary;
  const torch::Device device =
      device_for_local_rank(device_text(spec, options), cluster.local_rank());
  std::vector<std::string> layout;
  const std::string line = host_name() + " " + c10::str(device) + " " +
                           std::to_string(threads.threads) + " threads, BLAS " +
                           std::to_string(threads.blas_threads) +
                           (slots > 1 ? ", " + std::to_string(slots) + " tasks in flight" : "");
  if (!gather_layout(cluster, line, run, spec.output, layout)) return summary;

  if (cluster.rank() != 0) {
    if (slots == 1) {
      TaskWorker worker(spec, run.plan, store.folder(), device, threads.threads, cluster.rank());
      work(*cluster.worker_link(), std::ref(worker));
    } else {
      WorkerSlots workers(slots, task_workers(spec, run.plan, store.folder(), device,
                                              threads.threads, cluster.rank(), slots));
      cluster.relay(workers.links(), slots);
      workers.join();
    }
    return summary;
  }

  summary.started = true;
  summary.planned = static_cast<int64_t>(std::count(run.mine.begin(), run.mine.end(), true));
  summary.skipped = summary.planned - static_cast<int64_t>(run.pending.size());
  log_start(spec, options, run, summary, threads, device, cluster.size());
  std::vector<size_t> model_of(run.plan.size());
  for (size_t i = 0; i < run.plan.size(); ++i) model_of[i] = run.plan[i].model;
  Scheduler scheduler(run.pending, model_of, cluster.size() * slots);
  WorkerSlots local_workers(
      slots, task_workers(spec, run.plan, store.folder(), device, threads.threads, 0, slots));
  const std::unique_ptr<CoordinatorLink> link =
      cluster.coordinator_link(local_workers.links(), slots);
  InterruptWatch interrupt;
  const CoordinationResult coordination = coordinate(
      *link, scheduler,
      progress_reporter(run.plan, options, static_cast<int64_t>(run.pending.size()), summary),
      &interrupt.requested());
  summary.assignment_wait_seconds = coordination.assignment_wait_seconds;
  summary.peak_in_flight = coordination.peak_in_flight;
  summary.seconds = seconds_since(start);
  if (coordination.interrupted || coordination.out_of_space) {
    local_workers.detach();  // the caller ends the process; the tasks in flight are abandoned
    summary.interrupted = coordination.interrupted;
    summary.interrupt_signal = interrupt.signal();
    summary.out_of_space = coordination.out_of_space.value_or("");
    // Counted from the folder, not from reports: another rank may have stored a task whose report
    // had not arrived yet.
    for (size_t i = 0; i < run.plan.size(); ++i)
      if (run.mine[i] && store.folder().has_task_file(run.plan[i].id)) ++summary.kept;
    return summary;
  }
  local_workers.join();
  store.folder().write_run(run_record(started, summary, options, spec, layout, cluster, threads));
  store.merge(spec, alarms_of);  // the root's last-run fields come from the run record just written
  return summary;
}

namespace {

// The checkpoints prepare must train, one per missing file (reparameterised entries share their
// base's), checked before any trains: existing checkpoints readable and made for their data set,
// every missing file with train: settings, the new files writable, their data readable.
std::vector<const ModelSpec*> checkpoints_to_train(const ExperimentSpec& spec) {
  std::vector<const ModelSpec*> missing;
  std::set<std::string> paths;
  for (const ModelSpec& model : spec.models) {
    if (fs::exists(model.source.path)) {
      if (model.source.kind != "checkpoint") continue;
      // An existing checkpoint must be readable and made for the model's data set.
      CheckpointMetadata metadata;
      try {
        metadata = read_checkpoint_metadata(model.source.path);
      } catch (const Error& error) {
        throw Error(
            model.location,
            "model " + model.name + ": " + error.what() +
                (model.training.empty() ? "" : " (delete it to have prepare train it again)"));
      }
      if (!model.dataset.empty() && metadata.dataset != model.dataset)
        throw Error(model.location, "model " + model.name + ": " + model.source.path +
                                        " was trained on " + metadata.dataset + ", not " +
                                        model.dataset);
      continue;
    }
    if (model.training.empty()) continue;
    // One training per file, however its path is spelled (the spec refuses two recipes for it).
    if (paths.insert(resolved_path(model.source.path)).second) missing.push_back(&model);
  }
  for (const ModelSpec& model : spec.models) {
    if (!fs::exists(model.source.path) && !paths.count(resolved_path(model.source.path)))
      throw Error(model.location,
                  "model " + model.name + ": " + model.source.path +
                      " does not exist and no model entry has train: settings for it");
  }
  std::set<std::string> datasets;
  for (const ModelSpec* model : missing) {
    check_output_folder(fs::absolute(model->source.path).parent_path().string(),
                        "model " + model->name + " checkpoint");
    check_output_path(model->source.path, /*force=*/false, "model " + model->name + " checkpoint");
    datasets.insert(model->dataset);
  }
  // The data every training reads, once, before any trains (each rank checks what it will read).
  for (const std::string& name : datasets)
    for (const char* split : {"train", "test"}) load_dataset(name, spec.data_dir, split);
  return missing;
}

}  // namespace

PrepareSummary prepare_models(MpiCluster& cluster, const ExperimentSpec& spec,
                              const RunOptions& options) {
  const std::vector<const ModelSpec*> missing = checkpoints_to_train(spec);
  PrepareSummary summary;
  summary.to_train = static_cast<int64_t>(missing.size());
  const int threads = threads_per_task(spec, options, cluster.local_size());
  const ThreadSettings thread_settings = configure_threads(threads);
  if (cluster.rank() == 0) {
    if (!thread_settings.warning.empty()) options.log("note: " + thread_settings.warning);
    options.log(spec.name + ": " + std::to_string(missing.size()) + " of " +
                std::to_string(spec.models.size()) + " models to train on " +
                std::to_string(cluster.size()) + " rank" + (cluster.size() == 1 ? "" : "s"));
  }
  const torch::Device device =
      device_for_local_rank(device_text(spec, options), cluster.local_rank());
  // Each worker trains whole models; progress lines are printed by the rank that trains.
  const auto train = [&](int64_t index) {
    const ModelSpec& model = *missing.at(static_cast<size_t>(index));
    TaskOutcome outcome;
    try {
      TrainingJob job = TrainingJob::from_settings(model.training, model.dataset);
      if (!model.training.count("seed"))
        job.config.seed = derive_seed(spec.seed, "train|" + model.name);
      run_training_job(job, spec.data_dir, model.source.path, device,
                       [&model](const std::string& line) {
                         std::printf("[%s] %s\n", model.name.c_str(), line.c_str());
                         std::fflush(stdout);
                       });
    } catch (const std::exception& error) {
      outcome.failed = true;
      outcome.message = error.what();
    }
    return outcome;
  };
  if (cluster.rank() != 0) {
    work(*cluster.worker_link(), train);
    return summary;
  }
  std::vector<size_t> pending(missing.size()), model_of(missing.size());
  for (size_t i = 0; i < missing.size(); ++i) pending[i] = model_of[i] = i;
  Scheduler scheduler(pending, model_of, cluster.size());
  WorkerSlots local_worker(1, [&](int) -> WorkerSlots::Execute {
    configure_threads(threads);
    return train;
  });
  const std::unique_ptr<CoordinatorLink> link = cluster.coordinator_link(local_worker.links(), 1);
  coordinate(*link, scheduler, [&](const WorkerReport& report) {
    const ModelSpec& model = *missing.at(static_cast<size_t>(report.task));
    if (report.failed) {
      ++summary.failed;
      summary.failures.push_back(model.name + ": " + report.message);
    } else {
      ++summary.trained;
    }
  });
  local_worker.join();
  return summary;
}

}  // namespace robustscope
