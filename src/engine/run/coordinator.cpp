// The MPI coordinator: dynamic task queue on rank 0, workers on every rank (rank 0 on a thread of
// its own), results written by rank 0 only after the worker has its next task.
#include "engine/run/coordinator.hpp"

#include <mpi.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "core/error.hpp"
#include "core/runtime/device.hpp"
#include "core/version.hpp"
#include "engine/run/task_runner.hpp"
#include "engine/store/result_store.hpp"

namespace robustscope {
namespace {

constexpr int kTagReady = 1;   // worker → 0: give me a task (no payload)
constexpr int kTagResult = 2;  // worker → 0: a serialized Record; also a request for the next
constexpr int kTagAssign = 3;  // 0 → worker: int64 plan index, -1 = stop

std::string hostname() {
  char name[256] = {0};
  gethostname(name, sizeof(name) - 1);
  return name;
}

std::string mpi_library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::string version(text, length);
  const size_t end = version.find_first_of(",\n");
  return end == std::string::npos ? version : version.substr(0, end);
}

// Every rank's "host device threads", gathered on rank 0.
std::vector<std::string> gather_layout(const std::string& mine, int size) {
  constexpr int kWidth = 256;
  std::vector<char> send(kWidth, '\0');
  std::copy_n(mine.begin(), std::min<size_t>(mine.size(), kWidth - 1), send.begin());
  std::vector<char> all(static_cast<size_t>(kWidth) * size, '\0');
  MPI_Gather(send.data(), kWidth, MPI_CHAR, all.data(), kWidth, MPI_CHAR, 0, MPI_COMM_WORLD);
  std::vector<std::string> layout;
  for (int r = 0; r < size; ++r) layout.emplace_back(all.data() + r * kWidth);
  return layout;
}

// Rank 0 tells the others whether the run goes ahead: an empty message means yes.
std::string broadcast_text(std::string text, int rank) {
  int64_t length = static_cast<int64_t>(text.size());
  MPI_Bcast(&length, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
  if (rank != 0) text.resize(length);
  if (length > 0) MPI_Bcast(text.data(), static_cast<int>(length), MPI_CHAR, 0, MPI_COMM_WORLD);
  return text;
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Runs a task on a worker and says where it ran and how long the worker had waited for it: the
// evidence that writing results is never what workers wait on.
Record run_on_worker(TaskRunner& runner, const Task& task, int rank, double waited_seconds) {
  Record record = runner.run(task);
  record.set("rank", static_cast<int64_t>(rank));
  record.set("host", hostname());
  record.set("assignment_wait_seconds", waited_seconds);
  return record;
}

// Rank 0's own worker: a thread running one task at a time, handed over through a mutex.
class LocalWorker {
 public:
  LocalWorker(const ExperimentSpec& spec, torch::Device device, int threads)
      : thread_([this, &spec, device, threads] { loop(spec, device, threads); }) {}
  ~LocalWorker() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  bool idle() {
    std::lock_guard<std::mutex> lock(mutex_);
    return !task_ && !result_;
  }
  void assign(const Task& task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = task;
    }
    wake_.notify_all();
  }
  std::optional<Record> take_result() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::optional<Record> result = std::move(result_);
    result_.reset();
    return result;
  }

 private:
  void loop(const ExperimentSpec& spec, torch::Device device, int threads) {
    configure_threads(threads);  // OpenMP's thread count is per thread: set it on this one
    TaskRunner runner(spec, device);
    Clock::time_point idle_since = Clock::now();
    while (true) {
      Task task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return stop_ || task_.has_value(); });
        if (stop_) return;
        task = *task_;
      }
      Record record = run_on_worker(runner, task, 0, seconds_since(idle_since));
      std::lock_guard<std::mutex> lock(mutex_);
      task_.reset();
      result_ = std::move(record);
      idle_since = Clock::now();
    }
  }
  std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<Task> task_;
  std::optional<Record> result_;
  bool stop_ = false;
  std::thread thread_;
};

void send_assignment(int64_t index, int rank) {
  MPI_Send(&index, 1, MPI_INT64_T, rank, kTagAssign, MPI_COMM_WORLD);
}

void worker_loop(const ExperimentSpec& spec, const std::vector<Task>& plan, torch::Device device,
                 int rank) {
  TaskRunner runner(spec, device);
  MPI_Send(nullptr, 0, MPI_CHAR, 0, kTagReady, MPI_COMM_WORLD);
  while (true) {
    int64_t index = -1;
    const Clock::time_point asked = Clock::now();
    MPI_Recv(&index, 1, MPI_INT64_T, 0, kTagAssign, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (index < 0) return;
    const Record record = run_on_worker(runner, plan.at(index), rank, seconds_since(asked));
    const std::vector<char> bytes = serialize_record(record);
    MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_CHAR, 0, kTagResult, MPI_COMM_WORLD);
  }
}

// The queue: the next pending task, preferring the model the worker holds.
class TaskQueue {
 public:
  explicit TaskQueue(std::deque<size_t> pending) : pending_(std::move(pending)) {}
  bool empty() const { return pending_.empty(); }
  size_t next(const std::vector<Task>& plan, std::optional<size_t> held_model) {
    auto chosen = pending_.begin();
    if (held_model) {
      for (auto it = pending_.begin(); it != pending_.end(); ++it) {
        if (plan[*it].model == *held_model) {
          chosen = it;
          break;
        }
      }
    }
    const size_t index = *chosen;
    pending_.erase(chosen);
    return index;
  }

 private:
  std::deque<size_t> pending_;
};

}  // namespace

MpiSession::MpiSession(int* argc, char*** argv) {
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  if (provided < MPI_THREAD_FUNNELED) {
    MPI_Finalize();
    throw Error("MPI", "the MPI library does not support threads (MPI_THREAD_FUNNELED)");
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiSession::~MpiSession() { MPI_Finalize(); }

RunSummary run_experiment(const ExperimentSpec& spec, const RunOptions& options) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
  int local_rank = 0, local_size = 1;
  MPI_Comm_rank(node, &local_rank);
  MPI_Comm_size(node, &local_size);
  MPI_Comm_free(&node);

  const auto start = std::chrono::steady_clock::now();
  const std::string started = utc_timestamp();
  const std::vector<Task> plan = plan_tasks(spec);
  RunSummary summary;
  summary.planned = static_cast<int64_t>(plan.size());

  // Everything that can refuse the run happens on rank 0 before any task, then is broadcast.
  const ResultStore store(spec.output);
  std::map<std::string, Record> done;
  std::vector<std::string> notes;
  std::string refusal;
  torch::Device device = torch::kCPU;
  try {
    device =
        device_for_local_rank(options.device.empty() ? spec.device : options.device, local_rank);
  } catch (const Error& error) {
    refusal = error.what();
  }
  if (rank == 0 && refusal.empty()) {
    try {
      check_spec_files(spec);
      store.open_for_run(spec, options.force);
      done = store.completed_tasks(plan, notes);
    } catch (const Error& error) {
      refusal = error.what();
    }
  }
  refusal = broadcast_text(refusal, rank);
  if (!refusal.empty()) {
    if (rank == 0) throw Error(refusal);
    return summary;
  }
  summary.started = true;
  const int threads = options.threads >= 0 ? options.threads
                      : spec.threads > 0   ? spec.threads
                                           : std::max(1, available_cores() / local_size);
  const std::vector<std::string> layout =
      gather_layout(hostname() + " " + c10::str(device) + " " + std::to_string(threads), size);

  if (rank != 0) {
    configure_threads(threads);
    worker_loop(spec, plan, device, rank);
    return summary;
  }

  for (const std::string& note : notes) std::printf("note: %s\n", note.c_str());
  std::deque<size_t> pending;
  for (size_t i = 0; i < plan.size(); ++i)
    if (!done.count(plan[i].id)) pending.push_back(i);
  summary.skipped = summary.planned - static_cast<int64_t>(pending.size());
  std::printf("%s: %ld tasks, %ld already complete, %zu to run on %d rank%s\n", spec.name.c_str(),
              summary.planned, summary.skipped, pending.size(), size, size == 1 ? "" : "s");
  std::fflush(stdout);

  TaskQueue queue(std::move(pending));
  std::vector<std::optional<size_t>> held_model(size);  // per worker rank
  int64_t in_flight = 0, remote_active = size - 1, finished = 0;
  const int64_t to_run = summary.planned - summary.skipped;
  auto handle = [&](Record record) {
    --in_flight;
    summary.assignment_wait_seconds += record.number("assignment_wait_seconds");
    ++finished;
    const bool failed = record.text("status") != "completed";
    if (failed) {
      ++summary.failed;
      summary.failures.push_back(record.text("id") + " " + record.text("key") + ": " +
                                 record.text("message"));
    } else {
      ++summary.computed;
    }
    if (options.progress) {
      std::printf("[%ld/%ld] %s %s (%.1f s, rank %ld)%s%s\n", finished, to_run,
                  failed ? "FAILED" : "done", record.text("key").c_str(), record.number("seconds"),
                  record.integer("rank"), failed ? ": " : "",
                  failed ? record.text("message").c_str() : "");
      std::fflush(stdout);
    }
    const Clock::time_point writing = Clock::now();
    store.write_task(std::move(record));
    summary.write_seconds += seconds_since(writing);
  };
  // Replies to a worker rank that is ready: its next task, or stop.
  auto reply = [&](int worker) {
    if (queue.empty()) {
      send_assignment(-1, worker);
      --remote_active;
      return;
    }
    const size_t index = queue.next(plan, held_model[worker]);
    held_model[worker] = plan[index].model;
    ++in_flight;
    send_assignment(static_cast<int64_t>(index), worker);
  };
  // A failure of rank 0 itself (the disk is full) must not leave workers blocked in a receive.
  try {
    LocalWorker local(spec, device, threads);
    bool local_busy = false;
    std::vector<char> bytes;
    while (!queue.empty() || in_flight > 0 || remote_active > 0) {
      bool progressed = false;
      std::optional<Record> local_result;
      if (local_busy && (local_result = local.take_result())) local_busy = false;
      if (!local_busy && !queue.empty()) {  // the next task before the write, as for any worker
        const size_t index = queue.next(plan, held_model[0]);
        held_model[0] = plan[index].model;
        ++in_flight;
        local_busy = true;
        local.assign(plan[index]);
        progressed = true;
      }
      if (local_result) {
        handle(std::move(*local_result));
        progressed = true;
      }
      int flag = 0;
      MPI_Status status;
      MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &status);
      if (flag) {
        progressed = true;
        if (status.MPI_TAG == kTagReady) {
          MPI_Recv(nullptr, 0, MPI_CHAR, status.MPI_SOURCE, kTagReady, MPI_COMM_WORLD,
                   MPI_STATUS_IGNORE);
          reply(status.MPI_SOURCE);
        } else {
          int count = 0;
          MPI_Get_count(&status, MPI_CHAR, &count);
          bytes.resize(count);
          MPI_Recv(bytes.data(), count, MPI_CHAR, status.MPI_SOURCE, kTagResult, MPI_COMM_WORLD,
                   MPI_STATUS_IGNORE);
          reply(status.MPI_SOURCE);  // the worker's next task first: it never waits on our write
          handle(deserialize_record(bytes));
        }
      }
      if (!progressed) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "robustscope run: rank 0 failed: %s; completed tasks are kept in %s\n",
                 error.what(), store.task_dir().c_str());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  summary.seconds = seconds_since(start);

  Record run;
  run.set("run_id", started + "-" + std::to_string(getpid()));
  run.set("started", started);
  run.set("ended", utc_timestamp());
  run.set("seconds", summary.seconds);
  run.set("ranks", static_cast<int64_t>(size));
  std::string layout_text;
  for (int r = 0; r < size; ++r)
    layout_text += (r ? "; " : "") + std::to_string(r) + ": " + layout[r];
  run.set("rank_layout", layout_text);  // "rank: host device threads; …"
  run.set("mpi_version", mpi_library_version());
  run.set("code_version", code_version());
  run.set("libtorch_version", libtorch_version());
  run.set("tasks_planned", summary.planned);
  run.set("tasks_skipped", summary.skipped);
  run.set("tasks_computed", summary.computed);
  run.set("tasks_failed", summary.failed);
  run.set("forced", static_cast<int64_t>(options.force));
  run.set("data_dir", spec.data_dir);
  run.set("write_seconds", summary.write_seconds);
  run.set("assignment_wait_seconds", summary.assignment_wait_seconds);
  store.write_run(run);
  store.merge(spec, {{"mpi_version", mpi_library_version()},
                     {"last_run_rank_layout", layout_text},
                     {"last_run_started", started},
                     {"last_run_ended", utc_timestamp()}});
  return summary;
}

}  // namespace robustscope
