// MPI: collectives and coordination links.
#include "engine/run/mpi_cluster.hpp"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>
#include <utility>

#include "core/error.hpp"

namespace robustscope {
namespace {

constexpr int kTagReport = 1;  // worker → 0: a packed WorkerReport
constexpr int kTagAssign = 2;  // 0 → worker: int64 slot, int64 task index (kStopAssignment = stop)
constexpr size_t kReportHeader = 2 * sizeof(int64_t) + 1 + 2 * sizeof(double);

// A report as bytes: the rank's slot (report.worker there), task, flags (1 failed, 2 out of
// space), seconds, waited, then the message.
std::vector<char> pack(const WorkerReport& report) {
  std::vector<char> bytes(kReportHeader + report.message.size());
  char* at = bytes.data();
  const int64_t slot = report.worker;
  std::memcpy(at, &slot, sizeof(int64_t));
  at += sizeof(int64_t);
  std::memcpy(at, &report.task, sizeof(int64_t));
  at += sizeof(int64_t);
  *at++ = static_cast<char>((report.failed ? 1 : 0) | (report.out_of_space ? 2 : 0));
  std::memcpy(at, &report.seconds, sizeof(double));
  at += sizeof(double);
  std::memcpy(at, &report.waited_seconds, sizeof(double));
  at += sizeof(double);
  std::memcpy(at, report.message.data(), report.message.size());
  return bytes;
}

// The report of slot s of `rank`, as worker rank × slots + s.
WorkerReport unpack(const std::vector<char>& bytes, int rank, int slots) {
  if (bytes.size() < kReportHeader) throw Error("MPI", "a worker report is truncated");
  WorkerReport report;
  const char* at = bytes.data();
  int64_t slot = 0;
  std::memcpy(&slot, at, sizeof(int64_t));
  at += sizeof(int64_t);
  if (slot < 0 || slot >= slots)
    throw Error("MPI", "rank " + std::to_string(rank) + " reported from slot " +
                           std::to_string(slot) + " of " + std::to_string(slots));
  report.worker = rank * slots + static_cast<int>(slot);
  std::memcpy(&report.task, at, sizeof(int64_t));
  at += sizeof(int64_t);
  report.failed = (*at & 1) != 0;
  report.out_of_space = (*at++ & 2) != 0;
  std::memcpy(&report.seconds, at, sizeof(double));
  at += sizeof(double);
  std::memcpy(&report.waited_seconds, at, sizeof(double));
  at += sizeof(double);
  report.message.assign(at, bytes.data() + bytes.size());
  return report;
}

// Receives one report over MPI if one is waiting: its source rank and bytes.
std::optional<std::pair<int, std::vector<char>>> probe_report() {
  int flag = 0;
  MPI_Status status;
  MPI_Iprobe(MPI_ANY_SOURCE, kTagReport, MPI_COMM_WORLD, &flag, &status);
  if (!flag) return std::nullopt;
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  std::vector<char> bytes(static_cast<size_t>(count));
  MPI_Recv(bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, kTagReport, MPI_COMM_WORLD,
           MPI_STATUS_IGNORE);
  return std::make_pair(status.MPI_SOURCE, std::move(bytes));
}

// Polling backs off from 20 µs to 1 ms while nothing arrives, so an idle loop takes no core from
// the workers yet answers within microseconds when busy.
class PollPause {
 public:
  void wait() {
    std::this_thread::sleep_for(pause_);
    pause_ = std::min(pause_ * 2, std::chrono::microseconds(1000));
  }

 private:
  std::chrono::microseconds pause_{20};
};

// Workers are numbered rank × slots + slot; rank 0's slots are the workers of `local`.
class MpiCoordinatorLink : public CoordinatorLink {
 public:
  MpiCoordinatorLink(InProcessLinks& local, int size, int slots)
      : local_(local), size_(size), slots_(slots) {}
  int workers() const override { return size_ * slots_; }
  std::optional<WorkerReport> receive(std::chrono::microseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    // Alone, rank 0 waits on its own worker without polling MPI.
    if (size_ == 1) return local_.wait(timeout);
    PollPause pause;
    while (true) {
      if (std::optional<WorkerReport> report = local_.poll()) return report;
      if (auto received = probe_report()) return unpack(received->second, received->first, slots_);
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      pause.wait();
    }
  }
  void assign(int worker, int64_t task) override {
    if (worker < slots_) {
      local_.coordinator().assign(worker, task);
      return;
    }
    const int64_t message[2] = {worker % slots_, task};
    MPI_Send(message, 2, MPI_INT64_T, worker / slots_, kTagAssign, MPI_COMM_WORLD);
  }

 private:
  InProcessLinks& local_;
  int size_, slots_;
};

void send_report(const WorkerReport& report) {
  const std::vector<char> bytes = pack(report);
  MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, 0, kTagReport, MPI_COMM_WORLD);
}

// A rank's only worker, on its main thread: slot 0.
class MpiWorkerLink : public WorkerLink {
 public:
  void report(const WorkerReport& report) override {
    WorkerReport from_slot = report;
    from_slot.worker = 0;
    send_report(from_slot);
  }
  int64_t next_assignment() override {
    int64_t message[2] = {0, kStopAssignment};
    MPI_Recv(message, 2, MPI_INT64_T, 0, kTagAssign, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    return message[1];
  }
};

}  // namespace

MpiCluster::MpiCluster() {
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  if (provided < MPI_THREAD_FUNNELED) {
    MPI_Finalize();
    throw Error("MPI", "the MPI library does not support threads (MPI_THREAD_FUNNELED)");
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &local_rank_);
  MPI_Comm_size(node, &local_size_);
  MPI_Comm_free(&node);
}

MpiCluster::~MpiCluster() { MPI_Finalize(); }

std::string MpiCluster::broadcast(std::string text) const {
  int64_t length = static_cast<int64_t>(text.size());
  MPI_Bcast(&length, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
  if (rank_ != 0) text.resize(static_cast<size_t>(length));
  if (length > 0) MPI_Bcast(text.data(), static_cast<int>(length), MPI_CHAR, 0, MPI_COMM_WORLD);
  return text;
}

std::vector<std::string> MpiCluster::gather(const std::string& text) const {
  int length = static_cast<int>(text.size());
  std::vector<int> lengths(static_cast<size_t>(size_));
  MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  std::vector<int> offsets(static_cast<size_t>(size_), 0);
  int total = 0;
  for (int r = 0; r < size_; ++r) {
    offsets[r] = total;
    total += lengths[r];
  }
  std::vector<char> all(static_cast<size_t>(std::max(total, 1)));
  MPI_Gatherv(text.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR,
              0, MPI_COMM_WORLD);
  std::vector<std::string> texts;
  if (rank_ == 0)
    for (int r = 0; r < size_; ++r) texts.emplace_back(all.data() + offsets[r], lengths[r]);
  return texts;
}

std::string MpiCluster::library_version() const {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::string version(text, static_cast<size_t>(length));
  const size_t end = version.find_first_of(",\n");
  return end == std::string::npos ? version : version.substr(0, end);
}

std::unique_ptr<CoordinatorLink> MpiCluster::coordinator_link(InProcessLinks& local,
                                                              int slots) const {
  return std::make_unique<MpiCoordinatorLink>(local, size_, slots);
}

void MpiCluster::relay(InProcessLinks& local, int slots) const {
  // Only this thread calls MPI (FUNNELED): it forwards the slots' reports to rank 0 and rank 0's
  // assignments to the slots until every slot has been told to stop.
  int running = slots;
  PollPause pause;
  while (running > 0) {
    bool moved = false;
    while (std::optional<WorkerReport> report = local.poll()) {
      send_report(*report);  // report->worker is the slot
      moved = true;
    }
    int flag = 0;
    MPI_Iprobe(0, kTagAssign, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
    if (flag) {
      int64_t message[2] = {0, kStopAssignment};
      MPI_Recv(message, 2, MPI_INT64_T, 0, kTagAssign, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      if (message[0] < 0 || message[0] >= slots)
        throw Error("MPI", "an assignment names slot " + std::to_string(message[0]) + " of " +
                               std::to_string(slots));
      local.coordinator().assign(static_cast<int>(message[0]), message[1]);
      if (message[1] == kStopAssignment) --running;
      moved = true;
    }
    if (moved)
      pause = PollPause();
    else
      pause.wait();
  }
}

std::unique_ptr<WorkerLink> MpiCluster::worker_link() const {
  return std::make_unique<MpiWorkerLink>();
}

}  // namespace robustscope
