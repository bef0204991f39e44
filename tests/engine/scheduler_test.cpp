// The run's task queue and the coordination loops, without MPI: which task a worker gets, that
// every task runs exactly once however workers interleave, failures, resume (a subset pending),
// stopping.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "core/error.hpp"
#include "engine/run/coordination.hpp"
#include "engine/run/scheduler.hpp"
#include "support/temp_dir.hpp"

namespace robustscope {
namespace {

// Plan indices 0..n-1 whose model is model_of[i].
std::vector<size_t> all(size_t n) {
  std::vector<size_t> indices(n);
  for (size_t i = 0; i < n; ++i) indices[i] = i;
  return indices;
}

TEST(Scheduler, HandsOutThePlanInOrderAndKeepsAWorkerOnItsModel) {
  // Models: 0 0 1 1 0 2 — a worker that held model 0 comes back for the other model-0 task (4)
  // before the plan's next (2); a new worker takes the earliest task.
  const std::vector<size_t> model_of = {0, 0, 1, 1, 0, 2};
  Scheduler scheduler(all(6), model_of, 2);
  EXPECT_EQ(scheduler.assign(0), std::optional<size_t>(0));
  EXPECT_EQ(scheduler.assign(1), std::optional<size_t>(1));
  scheduler.finish(0, 0, false);
  EXPECT_EQ(scheduler.assign(0), std::optional<size_t>(4));  // its model, not the plan's next
  scheduler.finish(1, 1, false);
  EXPECT_EQ(scheduler.assign(1), std::optional<size_t>(2));  // model 0 has nothing left for it
  EXPECT_EQ(scheduler.held_model(1), std::optional<size_t>(1));
  scheduler.finish(0, 4, true);
  EXPECT_EQ(scheduler.assign(0), std::optional<size_t>(3));
  EXPECT_EQ(scheduler.assign(1), std::optional<size_t>(5));
  EXPECT_EQ(scheduler.assign(1), std::nullopt);
  EXPECT_FALSE(scheduler.done());  // two in flight
  scheduler.finish(0, 3, false);
  scheduler.finish(1, 2, false);
  scheduler.finish(1, 5, false);
  EXPECT_TRUE(scheduler.done());
  EXPECT_EQ(scheduler.completed(), 5);
  EXPECT_EQ(scheduler.failed(), 1);
}

TEST(Scheduler, ResumesWithTheTasksLeftAndRefusesReportsOfTasksNotAssigned) {
  const std::vector<size_t> model_of = {0, 0, 0, 1};
  Scheduler scheduler({1, 3}, model_of, 1);  // 0 and 2 were complete
  EXPECT_EQ(scheduler.queued(), 2);
  EXPECT_EQ(scheduler.assign(0), std::optional<size_t>(1));
  EXPECT_ERROR_CONTAINING(scheduler.finish(0, 2, false),
                          "worker 0 reported task 2, which it was not running");
  EXPECT_ERROR_CONTAINING(Scheduler({7}, model_of, 1), "task 7 is not in the plan");
  scheduler.stop();
  EXPECT_EQ(scheduler.assign(0), std::nullopt);  // stopped: nothing more handed out
  EXPECT_FALSE(scheduler.done());                // but task 1 is still in flight
  scheduler.finish(0, 1, false);
  EXPECT_TRUE(scheduler.done());
}

TEST(Scheduler, NoWorkerIdlesWhileTasksAreQueued) {
  // Three models, four workers: whatever a worker held, it gets a task as long as any is queued.
  const std::vector<size_t> model_of = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0};
  Scheduler scheduler(all(10), model_of, 4);
  int handed = 0;
  for (int round = 0; round < 3; ++round) {
    for (int worker = 0; worker < 4; ++worker) {
      const std::optional<size_t> task = scheduler.assign(worker);
      if (!task) continue;
      ++handed;
      scheduler.finish(worker, *task, false);
    }
  }
  EXPECT_EQ(handed, 10);
  EXPECT_TRUE(scheduler.done());
}

TEST(Coordination, EveryTaskRunsExactlyOnceOverManyWorkerThreads) {
  constexpr int kWorkers = 8;
  constexpr size_t kTasks = 500;
  std::vector<size_t> model_of(kTasks);
  for (size_t i = 0; i < kTasks; ++i) model_of[i] = i % 7;
  Scheduler scheduler(all(kTasks), model_of, kWorkers);
  std::mutex mutex;
  std::map<int64_t, int> runs;  // task → times run
  WorkerSlots slots(kWorkers, [&](int) -> WorkerSlots::Execute {
    return [&](int64_t task) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        ++runs[task];
      }
      return TaskOutcome{task % 50 == 0, task % 50 == 0 ? "planted failure" : ""};
    };
  });
  int64_t reported = 0, failed = 0;
  const CoordinationResult result =
      coordinate(slots.links().coordinator(), scheduler, [&](const WorkerReport& report) {
        ++reported;
        if (report.failed) {
          ++failed;
          EXPECT_EQ(report.message, "planted failure");
        }
      });
  slots.join();
  EXPECT_FALSE(result.interrupted);
  EXPECT_EQ(runs.size(), kTasks);
  for (const auto& [task, times] : runs) EXPECT_EQ(times, 1) << "task " << task;
  EXPECT_EQ(reported, static_cast<int64_t>(kTasks));
  EXPECT_EQ(failed, 10);
  EXPECT_EQ(scheduler.completed(), 490);
  EXPECT_TRUE(scheduler.done());
}

// The peak the run reports is the number of tasks truly running at once: here the first four tasks
// each wait until all four have started.
TEST(Coordination, ThePeakInFlightCountsTasksRunningAtOnce) {
  constexpr int kWorkers = 4;
  Scheduler scheduler(all(12), std::vector<size_t>(12, 0), kWorkers);
  std::mutex mutex;
  std::condition_variable started_changed;
  int started = 0;
  WorkerSlots slots(kWorkers, [&](int) -> WorkerSlots::Execute {
    return [&](int64_t) {
      std::unique_lock<std::mutex> lock(mutex);
      ++started;
      started_changed.notify_all();
      started_changed.wait_for(lock, std::chrono::seconds(30), [&] { return started >= kWorkers; });
      return TaskOutcome{};
    };
  });
  const CoordinationResult result =
      coordinate(slots.links().coordinator(), scheduler, [](const WorkerReport&) {});
  slots.join();
  EXPECT_EQ(result.peak_in_flight, kWorkers);
  EXPECT_EQ(scheduler.completed(), 12);
}

TEST(Coordination, AStopRequestEndsTheLoopWithoutWaitingForTheQueue) {
  Scheduler scheduler(all(1000), std::vector<size_t>(1000, 0), 2);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> executed{0};
  std::optional<WorkerSlots> slots;
  slots.emplace(2, [&](int) -> WorkerSlots::Execute {
    return [&](int64_t) {
      if (++executed == 20) stop = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return TaskOutcome{};
    };
  });
  const CoordinationResult result = coordinate(
      slots->links().coordinator(), scheduler, [](const auto&) {}, &stop);
  EXPECT_TRUE(result.interrupted);
  EXPECT_LT(scheduler.completed(), 100);
  // The workers still wait for an answer: the slots, going, tell them to stop and join them.
  slots.reset();
  const int64_t executed_at_stop = executed;
  EXPECT_LE(executed_at_stop, scheduler.completed() + 2);  // at most one task per slot after it
}

// An exception that leaves the coordinator (or a rank's relay) while slots run must reach the
// caller with its message, after each slot has finished its task, not end the process.
TEST(WorkerSlots, AnExceptionInTheOwnerStopsEverySlotAfterItsTask) {
  std::atomic<int> finished{0}, exited{0};
  std::atomic<bool> running{false};
  try {
    WorkerSlots slots(3, [&](int) -> WorkerSlots::Execute {
      const std::shared_ptr<void> on_exit(nullptr, [&](void*) { ++exited; });
      return [&, on_exit](int64_t) {
        running = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        ++finished;
        return TaskOutcome{};
      };
    });
    slots.links().coordinator().assign(1, 7);
    while (!running) std::this_thread::yield();
    throw Error("MPI", "an assignment names slot 5 of 3");
  } catch (const Error& error) {
    EXPECT_STREQ(error.what(), "MPI: an assignment names slot 5 of 3");
  }
  EXPECT_EQ(finished, 1);  // slot 1's task ran to its end
  EXPECT_EQ(exited, 3);    // and every slot's worker is gone
}

// A slot whose worker cannot be made (no stream, say) fails each task it is given with the reason:
// the run ends with failures to rerun, not with a coordinator waiting for a slot that died.
TEST(WorkerSlots, ASlotThatCannotStartFailsItsTasksWithTheReason) {
  Scheduler scheduler(all(20), std::vector<size_t>(20, 0), 2);
  WorkerSlots slots(2, [](int slot) -> WorkerSlots::Execute {
    if (slot == 1) throw Error("stream", "none left");
    return [](int64_t task) {
      if (task == 3) throw std::runtime_error("task 3 threw");
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      return TaskOutcome{};
    };
  });
  std::map<std::string, int> failures;
  int succeeded = 0;
  coordinate(slots.links().coordinator(), scheduler, [&](const WorkerReport& report) {
    if (report.failed)
      ++failures[report.message];
    else
      ++succeeded;
  });
  slots.join();
  EXPECT_EQ(scheduler.completed() + scheduler.failed(), 20);
  const std::string cannot_start = "slot 1 could not start: stream: none left";
  EXPECT_GE(failures[cannot_start], 1);
  int reported = succeeded;
  for (const auto& [message, count] : failures) {
    EXPECT_TRUE(message == cannot_start || message == "task 3 threw") << message;
    reported += count;
  }
  EXPECT_EQ(reported, 20);
}

}  // namespace
}  // namespace robustscope
