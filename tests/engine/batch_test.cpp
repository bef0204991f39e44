// The batch engine end to end through the CLI: identical numbers for 1, 2 and 3 MPI ranks, a real
// SIGKILL in the middle of a run then resume, content-checked resume, refusals, failed tasks, and
// what inspect prints.
#include <gtest/gtest.h>
#include <signal.h>
#include <torch/types.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "core/models/architectures.hpp"
#include "core/models/checkpoint.hpp"
#include "core/runtime/device.hpp"
#include "core/runtime/files.hpp"
#include "engine/records/hdf5_file.hpp"
#include "engine/records/schema.hpp"
#include "engine/store/result_store.hpp"
#include "support/batch_runs.hpp"
#include "support/temp_dir.hpp"
#include "support/tensor_assertions.hpp"

namespace robustscope {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

using testing::expect_same_results;
using testing::launcher;
using testing::processes_mentioning;

void save_model(const std::string& path, uint64_t seed, bool poisoned = false) {
  testing::save_mlp(path, seed, 32, 1, poisoned);
}

std::string sweep_spec(const TempDir& dir, int64_t count, bool with_poisoned = false) {
  std::string spec = "name: batch-test\nseed: 11\nthreads: 1\noutput: " + dir.file("r.h5") +
                     "\ndata: {dir: " + testing::data_dir() + "}\n" +
                     "samples: {count: " + std::to_string(count) +
                     ", shard_size: 10, batch_size: 10}\n"
                     "models:\n"
                     "  - {name: m1, checkpoint: " +
                     dir.file("m1.pt") +
                     "}\n"
                     "  - {name: m2, checkpoint: " +
                     dir.file("m2.pt") + "}\n";
  if (with_poisoned) spec += "  - {name: nan, checkpoint: " + dir.file("nan.pt") + "}\n";
  spec +=
      "procedures:\n"
      "  metric: {epsilon: [0.1, 0.3], steps: 5, restarts: 2}\n"
      "  attacks:\n"
      "    - {name: fgsm, epsilon: 0.1}\n"
      "    - {name: pgd, epsilon: 0.1, steps: 5}\n"
      "  ensembles:\n"
      "    - {members: [fgsm, apgd-ce], epsilon: 0.1, steps: 5}\n"
      "  landscape: {samples: 2, epsilon: 0.1, resolution_1d: 9, resolution_2d: 5}\n";
  return spec;
}

std::string write_spec(const TempDir& dir, const std::string& text, const std::string& name) {
  testing::write_file(dir.file(name), text);
  return dir.file(name);
}

testing::CommandResult run(int ranks, const std::string& spec, const std::string& extra = "") {
  return testing::run_command(launcher(ranks) + ROBUSTSCOPE_BINARY + " run " + spec + " " + extra);
}

// scripts/report.py on dir/r.h5 with `replicates` bootstrap replicates: report.md's text ("" when
// it failed, with the output as a test failure).
std::string write_report(const TempDir& dir, int replicates) {
  const auto result =
      testing::run_command(testing::python() + " " ROBUSTSCOPE_SOURCE_DIR "/scripts/report.py " +
                           dir.file("r.h5") + " --replicates " + std::to_string(replicates));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  return result.exit_code == 0 ? testing::read_file(dir.file("report/report.md")) : "";
}

class Batch : public ::testing::Test {
 protected:
  void SetUp() override {
    save_model(dir.file("m1.pt"), 1);
    save_model(dir.file("m2.pt"), 2);
    save_model(dir.file("nan.pt"), 3, true);
  }
  TempDir dir;
};

TEST_F(Batch, OneTwoAndThreeRanksGiveIdenticalResultFiles) {
  const std::string spec = write_spec(dir, sweep_spec(dir, 30), "spec.yaml");
  std::vector<std::string> outputs;
  for (int ranks : {1, 2, 3}) {
    const std::string output = dir.file("r" + std::to_string(ranks) + ".h5");
    const auto result = run(ranks, spec, "--output " + output + " --quiet");
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_NE(result.output.find("on " + std::to_string(ranks) + " ranks"), std::string::npos)
        << result.output;
    outputs.push_back(output);
  }
  const StoredResults stored = read_results(outputs[0]);
  EXPECT_EQ(stored.schema, schema::kResults);
  EXPECT_EQ(stored.tasks.size(), 2u * (5 * 3 + 1));
  EXPECT_EQ(stored.spec_text, testing::read_file(spec));
  for (const char* name : {"code_version", "libtorch_version", "hdf5_version", "mpi_version",
                           "spec_hash", "last_run_rank_layout"}) {
    ASSERT_TRUE(stored.root.count(name)) << name;
    EXPECT_FALSE(std::get<std::string>(stored.root.at(name)).empty()) << name;
  }
  // The three ranks of the 3-rank run all computed something: the queue is dynamic, not rank 0's.
  std::set<int64_t> ranks_used;
  for (const auto& [id, record] : read_results(outputs[2]).tasks)
    ranks_used.insert(record.integer("rank"));
  EXPECT_EQ(ranks_used.size(), 3u);
  expect_same_results(outputs[0], outputs[1]);
  expect_same_results(outputs[0], outputs[2]);
}

// Several tasks in flight on each rank (threads of their own, relayed over MPI by ranks above 0)
// write the file one task at a time writes; every slot of both ranks works, and at once.
TEST_F(Batch, TasksInFlightOnEachRankWriteTheFileOfOneTaskAtATime) {
  const std::string spec = write_spec(dir, sweep_spec(dir, 30), "spec.yaml");
  ASSERT_EQ(run(1, spec, "--output " + dir.file("one.h5") + " --quiet").exit_code, 0);
  const auto result = run(2, spec, "--output " + dir.file("six.h5") + " --tasks-in-flight 3");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("on 2 ranks, 3 tasks in flight on each"), std::string::npos)
      << result.output;
  std::set<std::string> slots_used;
  for (int rank = 0; rank < 2; ++rank)
    for (int slot = 0; slot < 3; ++slot) {
      const std::string name = "rank " + std::to_string(rank) + " slot " + std::to_string(slot);
      if (result.output.find(name + ")") != std::string::npos) slots_used.insert(name);
    }
  EXPECT_EQ(slots_used.size(), 6u) << result.output;
  const size_t at_most = result.output.find("at most ");
  ASSERT_NE(at_most, std::string::npos) << result.output;
  const int64_t peak = std::stoll(result.output.substr(at_most + 8));
  EXPECT_GE(peak, 2) << result.output;
  EXPECT_LE(peak, 6) << result.output;
  expect_same_results(dir.file("one.h5"), dir.file("six.h5"));
  const StoredResults stored = read_results(dir.file("six.h5"));
  const std::string layout = std::get<std::string>(stored.root.at("last_run_rank_layout"));
  EXPECT_NE(layout.find("1: "), std::string::npos) << layout;
  EXPECT_NE(layout.find(", 3 tasks in flight"), std::string::npos) << layout;

  const auto refused =
      run(1, spec, "--output " + dir.file("none.h5") + " --tasks-in-flight 0 --quiet");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("tasks in flight: must be 1 to 64, got 0"), std::string::npos)
      << refused.output;
  EXPECT_FALSE(fs::exists(dir.file("none.h5.d/tasks")));
}

// batch_size: auto is measured on rank 0 and reaches every rank: two ranks write the file one rank
// writes for the number it chose written in the spec. The MLPs take about 31 KiB a sample (input-
// sized tensors only), so 33 samples fit 1 MiB, and 30 is the largest divisor of 60 below that.
TEST_F(Batch, BatchSizeAutoReachesEveryRankAsTheNumberItChose) {
  std::string text = sweep_spec(dir, 60);
  const std::string sharding = "shard_size: 10, batch_size: 10";
  text.replace(text.find(sharding), sharding.size(), "shard_size: 60, batch_size: 30");
  const std::string numeric = write_spec(dir, text, "numeric.yaml");
  text.replace(text.find("batch_size: 30"), 14, "batch_size: auto, batch_memory_mib: 1");
  const std::string automatic = write_spec(dir, text, "auto.yaml");
  const auto result = run(2, automatic, "--output " + dir.file("auto.h5") + " --quiet");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("model m2: batch_size 30 (30 KiB per sample"), std::string::npos)
      << result.output;
  ASSERT_EQ(run(1, numeric, "--output " + dir.file("numeric.h5") + " --quiet").exit_code, 0);
  expect_same_results(dir.file("numeric.h5"), dir.file("auto.h5"));
  const StoredResults stored = read_results(dir.file("auto.h5"));
  EXPECT_EQ(stored.models.integer(schema::kModelBatchSize, "m1"), 30);
  std::set<int64_t> ranks_used;
  for (const auto& [id, record] : stored.tasks) ranks_used.insert(record.integer("rank"));
  EXPECT_EQ(ranks_used.size(), 2u);
}

// A sweep split into parts (run --part i/N), run at once as separate processes into one output,
// gives the file of one run bit for bit; the split covers every task once; a part already running
// is refused, as is a whole run while parts hold the output; a part rerun resumes its own tasks.
TEST_F(Batch, PartsRunAtOnceIntoOneOutputGiveTheFileOfOneRun) {
  const std::string spec = write_spec(dir, sweep_spec(dir, 30), "spec.yaml");
  const auto whole = run(1, spec, "--output " + dir.file("whole.h5") + " --quiet");
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  const std::string output = dir.file("parts.h5");
  std::string command;
  for (int part = 0; part < 3; ++part)
    command += std::string(ROBUSTSCOPE_BINARY) + " run " + spec + " --output " + output +
               " --quiet --part " + std::to_string(part) + "/3 > " +
               dir.file("part" + std::to_string(part) + ".log") + " 2>&1 & p" +
               std::to_string(part) + "=$!; ";
  command += "wait $p0 && wait $p1 && wait $p2";
  const auto parts = testing::run_command(command);
  int64_t covered = 0;
  for (int part = 0; part < 3; ++part) {
    const std::string log = testing::read_file(dir.file("part" + std::to_string(part) + ".log"));
    const std::string head = "part " + std::to_string(part) + "/3 (of 32 tasks in all): ";
    const size_t at = log.find(head);
    ASSERT_NE(at, std::string::npos) << log;
    const int64_t mine = std::stoll(log.substr(at + head.size()));
    EXPECT_GT(mine, 0) << log;
    covered += mine;
  }
  ASSERT_EQ(parts.exit_code, 0) << parts.output;
  EXPECT_EQ(covered, 32);
  expect_same_results(dir.file("whole.h5"), output);

  // Resuming a part touches its own tasks only.
  const auto again = run(1, spec, "--output " + output + " --quiet --part 1/3");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find(" already complete, 0 to run"), std::string::npos) << again.output;

  // While a part holds the output, a whole run is refused; the same part twice is refused.
  {
    const FileLock part_running(output + ".d/lock", "a part", LockMode::kShared);
    const auto refused = run(1, spec, "--output " + output + " --quiet");
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_NE(refused.output.find("is in use by another run"), std::string::npos) << refused.output;
  }
  {
    const FileLock same_part(output + ".d/lock.part-2-of-3", "part 2");
    const auto twice = run(1, spec, "--output " + output + " --quiet --part 2/3");
    EXPECT_NE(twice.exit_code, 0);
    EXPECT_NE(twice.output.find("part 2/3 of " + output + " is in use by another run"),
              std::string::npos)
        << twice.output;
    // Another part runs meanwhile.
    EXPECT_EQ(run(1, spec, "--output " + output + " --quiet --part 0/3").exit_code, 0);
  }
  for (const char* bad : {"3/3", "1", "a/2", "0/0"}) {
    const auto refused = run(1, spec, "--output " + output + " --part " + bad);
    EXPECT_NE(refused.exit_code, 0) << bad;
    EXPECT_NE(refused.output.find("--part: \"" + std::string(bad) + "\""), std::string::npos)
        << refused.output;
  }
}

// An output folder that another rank does not see (a node-local folder) is refused before any task,
// naming that rank's host and what it found: a folder of the same name without rank 0's files, or
// no folder at all. Rank 1 runs in a private mount namespace with a tmpfs over the folder.
TEST_F(Batch, AnOutputFolderAnotherRankDoesNotSeeIsRefusedBeforeAnyTask) {
  if (getuid() != 0 || testing::run_command("command -v unshare").exit_code != 0)
    GTEST_SKIP() << "needs root and unshare for a private mount namespace";
  const std::string text = sweep_spec(dir, 20);
  fs::create_directories(dir.file("shared/out"));
  const std::string output = dir.file("shared/out/r.h5");
  struct Case {
    std::string hide;  // what rank 1 does in its namespace before it runs
    std::string expected;
  };
  for (const Case& hidden :
       {Case{"mount -t tmpfs none " + dir.file("shared/out") + " && mkdir " + output + ".d",
             "the folder exists here but not rank 0's file in it (No such file or directory): a "
             "folder of the same name, not shared"},
        Case{"mount -t tmpfs none " + dir.file("shared"),
             "the folder does not exist on this host (No such file or directory)"}}) {
    SCOPED_TRACE(hidden.hide);
    const std::string spec = write_spec(dir, text, "spec.yaml");
    const std::string run =
        std::string(ROBUSTSCOPE_BINARY) + " run " + spec + " --output " + output + " --quiet";
    const auto refused =
        testing::run_command("mpirun --allow-run-as-root --oversubscribe -np 1 " + run +
                             " : -np 1 unshare -m sh -c '" + hidden.hide + " && exec " + run + "'");
    EXPECT_NE(refused.exit_code, 0) << refused.output;
    EXPECT_NE(refused.output.find("rank 1 on host " + host_name() +
                                  " does not see the output's task folder: "),
              std::string::npos)
        << refused.output;
    EXPECT_NE(refused.output.find(hidden.expected), std::string::npos) << refused.output;
    EXPECT_EQ(testing::count_files(output + ".d/tasks", ".h5"), 0);
    for (const auto& entry : fs::directory_iterator(output + ".d"))
      EXPECT_NE(entry.path().filename().string().rfind("visible.", 0), 0u) << "a token left behind";
  }
}

TEST_F(Batch, AKilledRunResumesToTheFileAnUninterruptedRunWrites) {
  const std::string spec = write_spec(dir, sweep_spec(dir, 120), "spec.yaml");
  const std::string reference = dir.file("reference.h5");
  ASSERT_EQ(run(1, spec, "--output " + reference + " --quiet").exit_code, 0);

  const std::string output = dir.file("killed.h5");
  const std::string task_folder = output + ".d/tasks";
  const int64_t planned = static_cast<int64_t>(read_results(reference).tasks.size());
  auto task_files = [&] {
    int64_t count = 0;
    if (fs::is_directory(task_folder))
      for (const auto& entry : fs::directory_iterator(task_folder))
        count += entry.path().extension() == ".h5";
    return count;
  };
  // Starts (or resumes) the run on 2 ranks and SIGKILLs the whole job once `threshold` task files
  // exist; returns how many survived.
  auto run_and_kill = [&](int64_t threshold) -> int64_t {
    const pid_t child = fork();
    if (child == 0) {
      setpgid(0, 0);
      const std::string command = launcher(2) + ROBUSTSCOPE_BINARY + " run " + spec +
                                  " --quiet --output " + output + " > /dev/null 2>&1";
      execl("/bin/sh", "sh", "-c", command.c_str(), nullptr);
      _exit(127);
    }
    setpgid(child, child);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (task_files() < threshold && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    // The whole job at once, as SLURM's cgroup would: mpirun, and the ranks it started (which Open
    // MPI places outside our process group), all named by the output path on their command lines.
    for (const pid_t pid : processes_mentioning(output)) kill(pid, SIGKILL);
    kill(-child, SIGKILL);
    waitpid(child, nullptr, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_TRUE(processes_mentioning(output).empty()) << "a rank survived the kill";
    const int64_t survived = task_files();
    std::printf("killed at %ld of %ld tasks written\n", survived, planned);
    return survived;
  };
  const int64_t first = run_and_kill(5);
  ASSERT_GE(first, 5);
  ASSERT_LT(first, planned) << "the run finished before the kill: make the spec larger";
  EXPECT_FALSE(fs::exists(output));           // the merged file only comes at the end
  const int64_t survived = run_and_kill(70);  // a resumed run, killed again later on
  ASSERT_GE(survived, 70);
  ASSERT_LT(survived, planned);

  const auto resumed = run(1, spec, "--output " + output);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find(std::to_string(survived) + " already complete"), std::string::npos)
      << resumed.output;
  expect_same_results(reference, output);

  // Resume checks content: a completed task whose data were altered is recomputed.
  const std::string victim = fs::directory_iterator(task_folder)->path().string();
  {
    Record record;
    {
      const Hdf5File file(victim, Hdf5File::Mode::kReadOnly);
      record = read_record(file, "/");
    }
    record.datasets["sample_ids"] = record.datasets["sample_ids"].clone();
    auto first = record.datasets.begin();
    for (; first != record.datasets.end(); ++first)
      if (first->second.is_floating_point()) break;
    ASSERT_NE(first, record.datasets.end());
    first->second = first->second + 1;  // the stored checksum no longer matches
    fs::remove(victim);
    write_record_file(victim, record);
  }
  fs::remove(output);  // the merged file would supply the intact copy
  const auto rechecked = run(1, spec, "--output " + output);
  ASSERT_EQ(rechecked.exit_code, 0) << rechecked.output;
  EXPECT_NE(rechecked.output.find("do not match the stored checksum"), std::string::npos)
      << rechecked.output;
  EXPECT_NE(rechecked.output.find("1 to run"), std::string::npos) << rechecked.output;
  expect_same_results(reference, output);
}

TEST_F(Batch, AnotherSpecIsRefusedUnlessForcedAndThenReusesMatchingTasks) {
  const std::string spec = write_spec(dir, sweep_spec(dir, 20), "spec.yaml");
  ASSERT_EQ(run(1, spec, "--quiet").exit_code, 0);
  std::string changed_text = sweep_spec(dir, 20);
  changed_text.replace(changed_text.find("steps: 5, restarts: 2"), 21, "steps: 6, restarts: 2");
  const std::string changed = write_spec(dir, changed_text, "changed.yaml");
  const auto refused = run(1, changed);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("holds results of a different spec"), std::string::npos)
      << refused.output;
  EXPECT_NE(refused.output.find("--force"), std::string::npos);
  const auto forced = run(1, changed, "--force");
  ASSERT_EQ(forced.exit_code, 0) << forced.output;
  // The two metric settings (2 shards each, 2 models) are new; everything else is reused.
  EXPECT_NE(forced.output.find("8 to run"), std::string::npos) << forced.output;
}

TEST_F(Batch, FailingTasksAreRecordedAndTheRunGoesOn) {
  const std::string spec = write_spec(dir, sweep_spec(dir, 10, true), "spec.yaml");
  const auto result = run(2, spec, "--quiet");
  EXPECT_EQ(result.exit_code, 3) << result.output;
  EXPECT_NE(result.output.find("failed: "), std::string::npos);
  EXPECT_NE(result.output.find("NaN"), std::string::npos) << result.output;
  const StoredResults stored = read_results(dir.file("r.h5"));
  int64_t completed = 0, failed = 0;
  for (const auto& [id, record] : stored.tasks) {
    if (record.text("status") == "completed") ++completed;
    if (record.text("status") == "failed") {
      ++failed;
      EXPECT_EQ(record.text("model"), "nan");
    }
  }
  EXPECT_EQ(completed, 2 * 6);
  EXPECT_EQ(failed, 6);
  const auto inspected =
      testing::run_command(std::string(ROBUSTSCOPE_BINARY) + " inspect " + dir.file("r.h5"));
  ASSERT_EQ(inspected.exit_code, 0) << inspected.output;
  for (const char* fragment : {"schema robustscope-results/2",
                               "tasks: 18 planned, 12 completed, "
                               "6 failed, 0 pending",
                               "failed model=nan|", "robust_accuracy", "psi_mean", "mpi_version"}) {
    EXPECT_NE(inspected.output.find(fragment), std::string::npos) << fragment << "\n"
                                                                  << inspected.output;
  }
}

TEST_F(Batch, TheReportAnswersFromTheResultsFile) {
  std::string text = sweep_spec(dir, 20);
  text.replace(text.find("procedures:"), 11,
               "  - {name: m1-x10, checkpoint: " + dir.file("m1.pt") +
                   ", reparameterize: {last_layer_scale: 10}}\n"
                   "  - {name: m1-relu, checkpoint: " +
                   dir.file("m1.pt") + ", reparameterize: {relu_rescale: 3}}\nprocedures:");
  text.replace(text.find("metric: {epsilon: [0.1, 0.3]"), 28,
               "metric: {normalization: [standardize, none], epsilon: [0.1, 0.3]");
  text += "  certify: {method: [ibp, crown], epsilon: 0.1, normalization: none}\n";
  const std::string spec = write_spec(dir, text, "spec.yaml");
  ASSERT_EQ(run(2, spec, "--quiet").exit_code, 0);
  const std::string report = write_report(dir, 100);
  ASSERT_FALSE(report.empty());
  for (const char* fragment :
       {"## 1. Which estimate ranks",
        "| same ε grid (verdict) |",
        "## 2. Is the metric invariant",
        "m1-x10 (last_layer_scale=10) vs m1",
        "m1-relu (relu_rescale=3) vs m1",
        "## 3. How cheaply can a setting rank the models as the strongest attack does?",
        "ψ standardize ε=0.1 K=5",
        "PGD-5 ε=0.1",
        "worst of fgsm+apgd-ce-5 ε=0.1",
        "figures/rank_agreement.png",
        "figures/landscapes_0.png",
        "## Brackets",
        "certified (crown) none ε=0.1",
        "## Verdicts",
        "- 1. Consistency (same ε grid: mean Kendall τ within the metric's settings",
        "- 2. Invariance to reparameterisation: m1-x10 (last_layer_scale=10): the normalised ψ's "
        "invariance **",
        "- 3. Cost (reference worst of fgsm+apgd-ce-5 ε=0.1)",
        "- 4. Brackets: 8 (model, ball, method) pairs, ",
        "in 8 of 8 the certified accuracy is at most the lowest robust accuracy",
        "Per sample: 0 certified samples broken by an attack (of ",
        "and 0 certified ψ below an ascent's (of ",
        "## Gradient-masking alarms",
        "| grouping | metric settings | τ within the metric |",
        "percentile-bootstrap intervals over the test images (100 replicates, seed 2019)"}) {
    EXPECT_NE(report.find(fragment), std::string::npos) << fragment;
  }
  for (const char* file :
       {"report.html", "figures/rank_agreement.png", "figures/metric_vs_accuracy.png",
        "figures/cost_vs_agreement.png", "tables/kendall_tau.csv", "tables/spearman_rho.csv",
        "tables/invariance.csv", "tables/cost.csv"}) {
    EXPECT_TRUE(fs::exists(dir.file(std::string("report/") + file))) << file;
  }
  // Every bracket holds: certified accuracy <= the lowest robust accuracy of an attack at that ε,
  // and (per sample ψ found <= ψ certified, so also) the median found <= the median certified.
  std::stringstream bracket_rows(testing::read_file(dir.file("report/tables/brackets.csv")));
  std::string row;
  std::getline(bracket_rows, row);
  int brackets = 0;
  while (std::getline(bracket_rows, row)) {
    std::vector<std::string> cells;
    std::stringstream fields(row);
    for (std::string cell; std::getline(fields, cell, ',');) cells.push_back(cell);
    ASSERT_EQ(cells.size(), 7u) << row;
    EXPECT_LE(std::stod(cells[2]), std::stod(cells[3])) << row;
    EXPECT_LE(std::stod(cells[4]), std::stod(cells[5])) << row;
    ++brackets;
  }
  EXPECT_EQ(brackets, 2 * 4);  // two methods × four models

  // ReLU rescaling keeps the function up to rounding; the sign-based ascents can still part ways on
  // a near-zero gradient entry, so the bounds are loose: robust accuracy within 0.1, the normalised
  // metric within 5% (the raw metric, 5 steps, moves more and is not checked).
  const std::string invariance = testing::read_file(dir.file("report/tables/invariance.csv"));
  std::stringstream lines(invariance);
  std::string line;
  int checked = 0;
  while (std::getline(lines, line)) {
    if (line.find("m1-relu") == std::string::npos || line.find("ψ raw") != std::string::npos)
      continue;
    std::vector<std::string>
        cells;  // model, setting, base, variant, low, high, change, seed spread
    std::stringstream fields(line);
    for (std::string cell; std::getline(fields, cell, ',');) cells.push_back(cell);
    ASSERT_EQ(cells.size(), 8u) << line;
    const std::string change = cells[6];
    const bool percent = change.back() == '%';
    EXPECT_LT(std::abs(std::stod(change)), percent ? 5.0 : 0.1) << line;
    ++checked;
  }
  EXPECT_EQ(checked, 3 + 2);  // fgsm, pgd and the ensemble; the normalised ψ at two ε

  // The report's per-setting numbers (from the per-sample data) equal inspect's (from the tasks'
  // stored headlines): one computation, checked against the other.
  const auto inspected = testing::run_command(std::string(ROBUSTSCOPE_BINARY) + " inspect " +
                                              dir.file("r.h5") + " --format csv");
  ASSERT_EQ(inspected.exit_code, 0) << inspected.output;
  const std::string compare =
      testing::python() +
      " -c \"import sys, csv, io; sys.path.insert(0, '" ROBUSTSCOPE_SOURCE_DIR
      "/scripts'); from robustscope.results import Results\n"
      "r = Results('" +
      dir.file("r.h5") +
      "')\n"
      "rows = list(csv.DictReader(io.StringIO(sys.stdin.read())))\n"
      "assert len(rows) > 20, len(rows)\n"
      "for row in rows:\n"
      "    mine = r.settings[(row['model'], row['setting'])].headline()[row['headline']]\n"
      "    value = float(row['value'])\n"
      "    assert mine == value or abs(mine - value) <= 1e-9 * max(1, abs(mine)), (row, mine)\n"
      "print('agree', len(rows))\"";
  testing::write_file(dir.file("inspect.csv"), inspected.output);
  const auto agreed = testing::run_command(compare + " < " + dir.file("inspect.csv"));
  EXPECT_EQ(agreed.exit_code, 0) << agreed.output;
  EXPECT_NE(agreed.output.find("agree"), std::string::npos) << agreed.output;

  // Several studies: one report each and their verdicts side by side; two of one name are refused.
  fs::copy_file(dir.file("r.h5"), dir.file("other.h5"));
  {
    Hdf5File other(dir.file("other.h5"), Hdf5File::Mode::kReadWrite);
    other.write_attribute("/", schema::kName, std::string("other-study"));
  }
  const std::string script = testing::python() + " " ROBUSTSCOPE_SOURCE_DIR "/scripts/report.py ";
  const auto both = testing::run_command(script + dir.file("r.h5") + " " + dir.file("other.h5") +
                                         " --replicates 20 --out " + dir.file("both"));
  ASSERT_EQ(both.exit_code, 0) << both.output;
  const std::string side_by_side = testing::read_file(dir.file("both/report.md"));
  EXPECT_NE(side_by_side.find("| question | batch-test | other-study |"), std::string::npos)
      << side_by_side;
  EXPECT_NE(side_by_side.find("| 1 | Consistency (same ε grid"), std::string::npos) << side_by_side;
  EXPECT_TRUE(fs::exists(dir.file("both/batch-test/report.md")));
  EXPECT_TRUE(fs::exists(dir.file("both/other-study/report.md")));
  const auto same = testing::run_command(script + dir.file("r.h5") + " " + dir.file("r.h5") +
                                         " --replicates 20 --out " + dir.file("same"));
  EXPECT_NE(same.exit_code, 0);
  EXPECT_NE(same.output.find("a second study named 'batch-test'"), std::string::npos)
      << same.output;
}

// The study spec's every procedure, on a reduced copy: its models replaced by small MLPs under the
// names the transfers craft on (and a masked twin), 20 digits; run on two ranks, then the report.
TEST_F(Batch, AReportOnAPartialRunWithoutAnEnsembleSaysWhatItDidNotCheckAndNamesItsReference) {
  std::string text = sweep_spec(dir, 20);
  const std::string ensemble =
      "  ensembles:\n    - {members: [fgsm, apgd-ce], epsilon: 0.1, steps: 5}\n";
  text.replace(text.find(ensemble), ensemble.size(), "");
  const std::string spec = write_spec(dir, text, "spec.yaml");
  ASSERT_EQ(run(1, spec, "--quiet").exit_code, 0);
  // As a killed run leaves it: m2's second FGSM shard missing, then a standalone merge.
  const StoredResults complete = read_results(dir.file("r.h5"));
  std::string removed;
  for (const auto& [id, record] : complete.tasks)
    if (record.text(schema::kModel) == "m2" && record.text(schema::kKind) == "attack" &&
        record.text(std::string(schema::kSettingPrefix) + "name") == "fgsm" &&
        record.integer(schema::kShard) == 1)
      removed = id;
  ASSERT_FALSE(removed.empty());
  fs::remove(dir.file("r.h5.d/tasks/" + removed + ".h5"));
  fs::remove(dir.file("r.h5"));  // a merged file would still hold the task
  ASSERT_EQ(testing::run_command(std::string(ROBUSTSCOPE_BINARY) + " merge " + dir.file("r.h5"))
                .exit_code,
            0);
  if (testing::python().empty()) GTEST_SKIP() << "no Python for the report";
  const std::string report = write_report(dir, 50);
  EXPECT_NE(report.find("1 setting is incomplete (tasks not yet computed) and was **not checked**"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("- `m2 attack(epsilon=0.1,loss=ce,name=fgsm,norm=linf)`"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("5. Gradient masking: no alarm among the complete settings; 1 incomplete "
                        "setting unchecked."),
            std::string::npos)
      << report;
  EXPECT_EQ(report.find("the ensemble: the strongest attack"), std::string::npos) << report;
  EXPECT_NE(report.find("the spec has no ensemble, so no stronger reference exists here"),
            std::string::npos)
      << report;
}

TEST_F(Batch, AReducedCopyOfTheStudySpecRunsAndItsReportAnswersEveryQuestion) {
  const std::string study =
      testing::read_file(ROBUSTSCOPE_SOURCE_DIR "/experiments/paper-fmnist.yaml");
  const size_t procedures = study.find("\nprocedures:\n");
  ASSERT_NE(procedures, std::string::npos);
  save_model(dir.file("m3.pt"), 3);
  std::string text =
      "name: reduced-study\nseed: 2019\nthreads: 1\noutput: " + dir.file("r.h5") +
      "\ndata: {dir: " + testing::data_dir() +
      "}\nsamples: {count: 20, shard_size: 20, batch_size: 20}\nmodels:\n"
      "  - {name: cnn-natural, checkpoint: " +
      dir.file("m1.pt") + "}\n  - {name: cnn-pgd-at, checkpoint: " + dir.file("m2.pt") +
      "}\n  - {name: mlp-natural, checkpoint: " + dir.file("m3.pt") +
      "}\n  - {name: cnn-natural-x10, checkpoint: " + dir.file("m1.pt") +
      ", reparameterize: {last_layer_scale: 10}}\n"
      "  - {name: cnn-natural-masked, checkpoint: " +
      dir.file("m1.pt") + ", reparameterize: {last_layer_scale: 10000}}" + study.substr(procedures);
  const std::string spec = write_spec(dir, text, "reduced.yaml");
  const auto ran = run(2, spec, "--quiet");
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  const std::string report = write_report(dir, 50);
  ASSERT_FALSE(report.empty());
  for (const char* fragment :
       {"## Verdicts", "- 1. Consistency", "- 2. Invariance to reparameterisation: cnn-natural-x10",
        "- 3. Cost (reference worst of apgd-ce-20+apgd-t-20+fgsm+square ε=0.1)",
        "- 4. Brackets: ", "- 5. Gradient masking: flagged **cnn-natural-masked**",
        "transfer from cnn-pgd-at", "BIM-10 ε=0.05", "CW-L2-20 l2 ε=1", "PGD-20 ε=1",
        "## Gradient-masking alarms", "## The models at a glance (linf ε = 0.1)",
        "## ψ as an estimator: convergence and seed noise",
        "- 7. ψ as an estimator: ", "seed spread of mean ψ at most ", "figures/psi_convergence.png",
        "| same ε grid (verdict) |"}) {
    EXPECT_NE(report.find(fragment), std::string::npos) << fragment;
  }
}

TEST_F(Batch, PlanPrintsTasksAndCostsWithoutRunning) {
  const std::string spec = write_spec(dir, sweep_spec(dir, 30), "spec.yaml");
  const auto result = testing::run_command(std::string(ROBUSTSCOPE_BINARY) + " plan " + spec);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("-> 32 tasks"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("attack(epsilon=0.1,loss=ce,name=fgsm"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir.file("r.h5")));
  EXPECT_FALSE(fs::exists(dir.file("r.h5.d")));
  const auto missing = run(1, write_spec(dir, "name: x\n", "bad.yaml"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("bad.yaml:1:1: the spec needs \"output\""), std::string::npos)
      << missing.output;
}

}  // namespace
}  // namespace robustscope
