// robustscope-bench-coordinator: the batch engine's own overhead and scaling. (0) The coordinator's
// bookkeeping alone, with 1, 8 and 32 simulated workers (threads, tasks that finish at once):
// tasks/s. Then through the real CLI under mpirun: (1) no-op tasks (each only returns its sample
// ids, but its worker writes, syncs and renames its file like any result): tasks/s at N ranks,
// oversubscribed; (2) a small real sweep (metric and PGD on a small CNN, one thread per rank) at
// N = 1 and N = 2: parallel efficiency T1 / (N·TN). Both print how long workers waited for their
// next assignment.
#include <torch/types.h>
#include <unistd.h>
#include <boost/program_options.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <vector>

#include "bench/measurement.hpp"
#include "core/models/architectures.hpp"
#include "core/models/checkpoint.hpp"
#include "core/runtime/device.hpp"
#include "engine/run/coordination.hpp"
#include "engine/run/scheduler.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using namespace robustscope;

namespace {

struct RunFigures {
  double loop_seconds = 0, wall_seconds = 0, tasks_per_second = 0;
  double wait_ms = 0;
  bool ok = false;
  std::string output;
};

RunFigures run_spec(const std::string& launcher, int ranks, const std::string& binary,
                    const std::string& spec, const std::string& output) {
  const std::string command = launcher + " -np " + std::to_string(ranks) + " " + binary + " run " +
                              spec + " --quiet --output " + output + " 2>&1";
  const auto start = std::chrono::steady_clock::now();
  FILE* pipe = popen(command.c_str(), "r");
  RunFigures figures;
  if (!pipe) return figures;
  char line[4096];
  while (fgets(line, sizeof(line), pipe)) {
    figures.output += line;
    const char* at = std::strstr(line, " failed in ");
    if (at)
      std::sscanf(at, " failed in %lf s (%lf tasks/s", &figures.loop_seconds,
                  &figures.tasks_per_second);
    std::sscanf(line, "coordinator: workers waited %lf ms", &figures.wait_ms);
  }
  figures.ok = pclose(pipe) == 0 && figures.loop_seconds > 0;
  figures.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return figures;
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

int main(int argc, char** argv) {
  std::string binary = ROBUSTSCOPE_BINARY, data_dir = "data", launcher;
  int64_t noop_tasks = 1000, sweep_samples = 400;
  po::options_description options("robustscope-bench-coordinator options");
  options.add_options()("binary", po::value(&binary)->default_value(binary), "robustscope")(
      "data-dir", po::value(&data_dir)->default_value(data_dir), "folder holding mnist/")(
      "noop-tasks", po::value(&noop_tasks)->default_value(noop_tasks), "no-op tasks per run")(
      "sweep-samples", po::value(&sweep_samples)->default_value(sweep_samples),
      "samples of the real sweep (shards of 25)")(
      "mpirun", po::value(&launcher),
      "launcher (default: mpirun --oversubscribe, with --allow-run-as-root as root)");
  if (const int exit_code =
          bench::parse_benchmark_options("robustscope-bench-coordinator", argc, argv, options);
      exit_code >= 0) {
    return exit_code;
  }
  if (launcher.empty())
    launcher =
        std::string("mpirun --oversubscribe") + (getuid() == 0 ? " --allow-run-as-root" : "");
  char pattern[] = "/tmp/robustscope-bench-XXXXXX";
  const std::string dir = mkdtemp(pattern);
  data_dir = fs::absolute(data_dir).string();
  std::printf("%d cores; %s; temporary files in %s\n\n", available_cores(), launcher.c_str(),
              dir.c_str());

  // (1) No-op tasks.
  const std::string noop_spec = dir + "/noop.yaml";
  write_text(
      noop_spec,
      "name: noop\nthreads: 1\noutput: unused.h5\nsamples: {count: " + std::to_string(noop_tasks) +
          ", shard_size: 1, batch_size: 1}\nmodels:\n  - {name: none, dataset: mnist, "
          "torchscript: none.pt}\nprocedures:\n  noop: {}\n");
  // (0) The coordinator's bookkeeping alone: simulated workers (threads of this process) that
  // finish each task at once, so the loop, the scheduler and the links are all that is measured.
  std::printf("%-44s %10s %10s\n", "bookkeeping (in-process, no task work)", "tasks/s", "ratio");
  for (int workers : {1, 8, 32}) {
    const int64_t tasks = 200000;
    std::vector<size_t> pending(tasks), model_of(tasks);
    for (int64_t i = 0; i < tasks; ++i) {
      pending[i] = static_cast<size_t>(i);
      model_of[i] = static_cast<size_t>(i % 16);
    }
    Scheduler scheduler(pending, model_of, workers);
    InProcessLinks links(workers);
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w)
      threads.emplace_back(
          [&links, w] { work(links.worker(w), [](int64_t) { return TaskOutcome{}; }); });
    const auto start = std::chrono::steady_clock::now();
    int64_t reported = 0;
    coordinate(links.coordinator(), scheduler, [&reported](const WorkerReport&) { ++reported; });
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (auto& thread : threads) thread.join();
    std::printf("%-44s %10.0f %10.2f   (target >= 2,000 tasks/s with 32 workers)\n",
                (std::to_string(reported) + " tasks, " + std::to_string(workers) + " workers on " +
                 std::to_string(available_cores()) + " cores")
                    .c_str(),
                reported / seconds, reported / seconds / 2000.0);
  }

  std::printf("\n%-44s %10s %10s %12s\n", "no-op tasks through MPI (each writes its file)",
              "tasks/s", "wall s", "wait ms/task");
  for (int ranks : {1, 2, 4}) {
    const RunFigures figures =
        run_spec(launcher, ranks, binary, noop_spec, dir + "/noop" + std::to_string(ranks) + ".h5");
    if (!figures.ok) {
      std::printf("N = %d failed:\n%s\n", ranks, figures.output.c_str());
      return 1;
    }
    std::printf("%-44s %10.1f %10.1f %12.3f\n",
                (std::to_string(noop_tasks) + " tasks, N = " + std::to_string(ranks)).c_str(),
                figures.tasks_per_second, figures.wall_seconds, figures.wait_ms);
  }

  // (2) A small real sweep, one thread per rank.
  seed_all(0);
  CheckpointMetadata metadata;
  metadata.architecture = ArchitectureConfig::for_dataset("small-cnn", dataset_info("mnist"));
  metadata.dataset = "mnist";
  metadata.recipe = {{"name", "natural"}};
  BuiltinClassifier model(metadata.architecture);
  save_checkpoint(dir + "/model.pt", model, metadata);
  const std::string sweep_spec = dir + "/sweep.yaml";
  write_text(sweep_spec, "name: sweep\nthreads: 1\noutput: unused.h5\ndata: {dir: " + data_dir +
                             "}\nsamples: {count: " + std::to_string(sweep_samples) +
                             ", shard_size: 25, batch_size: 25}\nmodels:\n  - {name: cnn, "
                             "checkpoint: " +
                             dir +
                             "/model.pt}\nprocedures:\n  metric: "
                             "{epsilon: 0.1, steps: 20}\n  attacks:\n    - {name: pgd, epsilon: "
                             "0.1, steps: 20}\n");
  std::printf("\n%-44s %10s %10s %12s\n", "real sweep (small CNN, 1 thread per rank)", "loop s",
              "wall s", "wait ms/task");
  double one_rank = 0, one_rank_wall = 0;
  for (int ranks : {1, 2}) {
    const RunFigures figures = run_spec(launcher, ranks, binary, sweep_spec,
                                        dir + "/sweep" + std::to_string(ranks) + ".h5");
    if (!figures.ok) {
      std::printf("N = %d failed:\n%s\n", ranks, figures.output.c_str());
      return 1;
    }
    std::printf(
        "%-44s %10.1f %10.1f %12.3f\n",
        (std::to_string(sweep_samples / 25 * 2) + " tasks, N = " + std::to_string(ranks)).c_str(),
        figures.loop_seconds, figures.wall_seconds, figures.wait_ms);
    if (ranks == 1) {
      one_rank = figures.loop_seconds;
      one_rank_wall = figures.wall_seconds;
    } else {
      std::printf("%-44s %10.3f   (target >= 0.85; wall-clock incl. start-up: %.3f)\n",
                  "parallel efficiency T1 / (2 T2)", one_rank / (2 * figures.loop_seconds),
                  one_rank_wall / (2 * figures.wall_seconds));
    }
  }
  fs::remove_all(dir);
  return 0;
}
