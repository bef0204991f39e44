// Links between threads.
#include "engine/run/links.hpp"

namespace robustscope {

struct InProcessLinks::Shared {
  std::mutex mutex;
  std::condition_variable reported;
  std::deque<WorkerReport> reports;
  std::vector<std::deque<int64_t>> assignments;
  std::condition_variable assigned;
};

class InProcessLinks::Coordinator : public CoordinatorLink {
 public:
  Coordinator(std::shared_ptr<Shared> shared, int workers)
      : shared_(std::move(shared)), workers_(workers) {}
  int workers() const override { return workers_; }
  std::optional<WorkerReport> receive(std::chrono::microseconds timeout) override {
    std::unique_lock<std::mutex> lock(shared_->mutex);
    if (!shared_->reported.wait_for(lock, timeout, [this] { return !shared_->reports.empty(); }))
      return std::nullopt;
    WorkerReport report = std::move(shared_->reports.front());
    shared_->reports.pop_front();
    return report;
  }
  void assign(int worker, int64_t task) override {
    {
      std::lock_guard<std::mutex> lock(shared_->mutex);
      shared_->assignments.at(static_cast<size_t>(worker)).push_back(task);
    }
    shared_->assigned.notify_all();
  }

 private:
  std::shared_ptr<Shared> shared_;
  int workers_;
};

class InProcessLinks::Worker : public WorkerLink {
 public:
  Worker(std::shared_ptr<Shared> shared, int index) : shared_(std::move(shared)), index_(index) {}
  void report(const WorkerReport& report) override {
    {
      std::lock_guard<std::mutex> lock(shared_->mutex);
      shared_->reports.push_back(report);
      shared_->reports.back().worker = index_;
    }
    shared_->reported.notify_all();
  }
  int64_t next_assignment() override {
    std::unique_lock<std::mutex> lock(shared_->mutex);
    auto& queue = shared_->assignments.at(static_cast<size_t>(index_));
    shared_->assigned.wait(lock, [&queue] { return !queue.empty(); });
    const int64_t task = queue.front();
    queue.pop_front();
    return task;
  }

 private:
  std::shared_ptr<Shared> shared_;
  int index_;
};

InProcessLinks::InProcessLinks(int workers) : shared_(std::make_shared<Shared>()) {
  shared_->assignments.resize(static_cast<size_t>(workers));
  coordinator_ = std::make_unique<Coordinator>(shared_, workers);
  for (int i = 0; i < workers; ++i) workers_.push_back(std::make_unique<Worker>(shared_, i));
}

std::optional<WorkerReport> InProcessLinks::wait(std::chrono::microseconds timeout) {
  return coordinator_->receive(timeout);
}

std::optional<WorkerReport> InProcessLinks::poll() {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  if (shared_->reports.empty()) return std::nullopt;
  WorkerReport report = std::move(shared_->reports.front());
  shared_->reports.pop_front();
  return report;
}

}  // namespace robustscope
