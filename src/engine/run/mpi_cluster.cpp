// MPI: collectives and coordination links.
#include "engine/run/mpi_cluster.hpp"

#include <mpi.h>

#include <cstring>
#include <thread>

#include "core/error.hpp"

namespace robustscope {
namespace {

constexpr int kTagReport = 1;  // worker → 0: a packed WorkerReport
constexpr int kTagAssign = 2;  // 0 → worker: int64 task index, kStopAssignment = stop

// A report as bytes: task, failed, seconds, waited, then the message.
std::vector<char> pack(const WorkerReport& report) {
  std::vector<char> bytes(sizeof(int64_t) + 1 + 2 * sizeof(double) + report.message.size());
  char* at = bytes.data();
  std::memcpy(at, &report.task, sizeof(int64_t));
  at += sizeof(int64_t);
  *at++ = report.failed ? 1 : 0;
  std::memcpy(at, &report.seconds, sizeof(double));
  at += sizeof(double);
  std::memcpy(at, &report.waited_seconds, sizeof(double));
  at += sizeof(double);
  std::memcpy(at, report.message.data(), report.message.size());
  return bytes;
}

WorkerReport unpack(const std::vector<char>& bytes, int worker) {
  constexpr size_t kHeader = sizeof(int64_t) + 1 + 2 * sizeof(double);
  if (bytes.size() < kHeader) throw Error("MPI", "a worker report is truncated");
  WorkerReport report;
  report.worker = worker;
  const char* at = bytes.data();
  std::memcpy(&report.task, at, sizeof(int64_t));
  at += sizeof(int64_t);
  report.failed = *at++ != 0;
  std::memcpy(&report.seconds, at, sizeof(double));
  at += sizeof(double);
  std::memcpy(&report.waited_seconds, at, sizeof(double));
  at += sizeof(double);
  report.message.assign(at, bytes.data() + bytes.size());
  return report;
}

class MpiCoordinatorLink : public CoordinatorLink {
 public:
  MpiCoordinatorLink(InProcessLinks& local, int size) : local_(local), size_(size) {}
  int workers() const override { return size_; }
  std::optional<WorkerReport> receive(std::chrono::microseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    // Alone, rank 0 waits on its own worker without polling MPI.
    if (size_ == 1) return local_.wait(timeout);
    // Polling backs off from 20 µs to 1 ms while nothing arrives, so an idle coordinator takes
    // no core from the workers yet answers within microseconds when busy.
    auto pause = std::chrono::microseconds(20);
    while (true) {
      if (std::optional<WorkerReport> report = local_.poll()) return report;
      int flag = 0;
      MPI_Status status;
      MPI_Iprobe(MPI_ANY_SOURCE, kTagReport, MPI_COMM_WORLD, &flag, &status);
      if (flag) {
        int count = 0;
        MPI_Get_count(&status, MPI_BYTE, &count);
        std::vector<char> bytes(static_cast<size_t>(count));
        MPI_Recv(bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, kTagReport, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
        return unpack(bytes, status.MPI_SOURCE);
      }
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(1000));
    }
  }
  void assign(int worker, int64_t task) override {
    if (worker == 0) {
      local_.coordinator().assign(0, task);
      return;
    }
    MPI_Send(&task, 1, MPI_INT64_T, worker, kTagAssign, MPI_COMM_WORLD);
  }

 private:
  InProcessLinks& local_;
  int size_;
};

class MpiWorkerLink : public WorkerLink {
 public:
  void report(const WorkerReport& report) override {
    const std::vector<char> bytes = pack(report);
    MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, 0, kTagReport, MPI_COMM_WORLD);
  }
  int64_t next_assignment() override {
    int64_t task = kStopAssignment;
    MPI_Recv(&task, 1, MPI_INT64_T, 0, kTagAssign, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    return task;
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

std::unique_ptr<CoordinatorLink> MpiCluster::coordinator_link(InProcessLinks& local) const {
  return std::make_unique<MpiCoordinatorLink>(local, size_);
}

std::unique_ptr<WorkerLink> MpiCluster::worker_link() const {
  return std::make_unique<MpiWorkerLink>();
}

}  // namespace robustscope
