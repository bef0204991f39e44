// The task runner and the result store as units: what a task's record holds, a failing task, the
// model cache; task folders, verification, refusals, the merged file's exact contents, old schemas.
#include <gtest/gtest.h>
#include <torch/types.h>

#include <filesystem>
#include <regex>

#include "core/eval/dataset_evaluation.hpp"
#include "core/models/model_source.hpp"
#include "core/runtime/device.hpp"
#include "core/runtime/hashing.hpp"
#include "core/runtime/host_memory.hpp"
#include "engine/analysis/masking_alarms.hpp"
#include "engine/records/schema.hpp"
#include "engine/run/task_runner.hpp"
#include "engine/store/result_store.hpp"
#include "support/batch_runs.hpp"
#include "support/temp_dir.hpp"
#include "support/tensor_assertions.hpp"

namespace robustscope {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

class StoreAndRunner : public ::testing::Test {
 protected:
  void SetUp() override {
    configure_threads(1);
    testing::save_mlp(dir.file("a.pt"), 1);
    testing::save_mlp(dir.file("b.pt"), 2);
    spec = parse_spec("name: unit\nseed: 3\noutput: " + dir.file("r.h5") +
                          "\ndata: {dir: " + testing::data_dir() +
                          "}\nsamples: {count: 20, shard_size: 10, batch_size: 5}\nmodels:\n"
                          "  - {name: a, checkpoint: " +
                          dir.file("a.pt") +
                          "}\n"
                          "  - {name: b, checkpoint: " +
                          dir.file("b.pt") +
                          "}\n"
                          "  - {name: nan, checkpoint: " +
                          dir.file("a.pt") +
                          ", reparameterize: {last_layer_scale: 1e300}}\n"
                          "procedures:\n  metric: {epsilon: 0.1, steps: 3}\n"
                          "  transfers:\n    - {substitute: b, name: fgsm, epsilon: 0.1}\n",
                      dir.file("unit.yaml"));
    resolve_models(spec, false);
    plan = plan_tasks(spec);
  }
  const Task& task_of(const std::string& model, const std::string& kind, int64_t shard) {
    for (const Task& task : plan)
      if (spec.models[task.model].name == model && spec.procedures[task.procedure].kind() == kind &&
          task.shard == shard)
        return task;
    throw std::runtime_error("no such task");
  }
  TempDir dir;
  ExperimentSpec spec;
  std::vector<Task> plan;
};

TEST_F(StoreAndRunner, AMetricTaskRecordsItsSamplesSettingsAndHeadline) {
  TaskRunner runner(spec, torch::kCPU);
  const Task& task = task_of("a", "metric", 1);
  const Record record = runner.run(task);
  ASSERT_EQ(record.text(schema::kStatus), "completed") << record.text(schema::kMessage);
  EXPECT_TENSORS_EQUAL(record.dataset(schema::kSampleIds), torch::arange(10, 20, torch::kInt64));
  EXPECT_EQ(record.dataset(schema::kPsi).size(0), 10);
  EXPECT_EQ(record.text(schema::kModelFileHash), spec.models[0].content_hash);
  EXPECT_EQ(record.integer(schema::kBatchSize), 5);
  EXPECT_EQ(static_cast<uint64_t>(record.integer(schema::kSeed)), task.seed);
  EXPECT_EQ(record.number(std::string(schema::kSettingPrefix) + "epsilon"), 0.1);  // a number
  EXPECT_EQ(record.text(std::string(schema::kSettingPrefix) + "divergence"), "kl");
  // The headline is the mean of the stored per-sample ψ, and ψ is what the core computes.
  EXPECT_DOUBLE_EQ(record.number(std::string(schema::kHeadlinePrefix) + schema::kPsiMean),
                   record.dataset(schema::kPsi).to(torch::kFloat64).mean().item<double>());
  auto model = load_classifier(spec.models[0].source, dataset_info("mnist"), torch::kCPU);
  MetricConfig config = std::get<MetricProcedure>(spec.procedures[0].settings).config;
  config.seed = task.seed;
  const Dataset data = load_dataset("mnist", testing::data_dir(), "test").slice(10, 10);
  EXPECT_TENSORS_EQUAL(record.dataset(schema::kPsi),
                       evaluate_metric(*model, data, config, 5, torch::kCPU).value);
  EXPECT_EQ(record.integer(schema::kForwardBackwardPasses), 10 * 3);
}

TEST_F(StoreAndRunner, ACertifyTaskRecordsTheBoundsTheCoreComputes) {
  ExperimentSpec certified = parse_spec(
      "name: unit\nseed: 3\noutput: " + dir.file("c.h5") + "\ndata: {dir: " + testing::data_dir() +
          "}\nsamples: {count: 20, shard_size: 10, batch_size: 5}\nmodels:\n"
          "  - {name: a, checkpoint: " +
          dir.file("a.pt") +
          "}\nprocedures:\n  certify: {method: [ibp, crown], epsilon: 0.02, normalization: none}\n",
      dir.file("certify.yaml"));
  resolve_models(certified, false);
  const std::vector<Task> tasks = plan_tasks(certified);
  ASSERT_EQ(tasks.size(), 4u);  // two methods × two shards
  TaskRunner runner(certified, torch::kCPU);
  auto model = load_classifier(certified.models[0].source, dataset_info("mnist"), torch::kCPU);
  const Dataset data = load_dataset("mnist", testing::data_dir(), "test").slice(10, 10);
  std::map<std::string, double> certified_accuracy;
  for (const Task& task : tasks) {
    if (task.shard != 1) continue;
    const Record record = runner.run(task);
    ASSERT_EQ(record.text(schema::kStatus), "completed") << record.text(schema::kMessage);
    const auto& procedure =
        std::get<CertifyProcedure>(certified.procedures[task.procedure].settings);
    // The task bounds its batches of 5 (bitwise equal only to the same batching).
    CertifyResult expected;
    std::vector<torch::Tensor> psi, is_certified, margin;
    for (int64_t start = 0; start < 10; start += 5) {
      const CertifyResult part = certify(*model, data.images.slice(0, start, start + 5),
                                         data.labels.slice(0, start, start + 5), procedure.config);
      psi.push_back(part.psi_upper);
      is_certified.push_back(part.certified);
      margin.push_back(part.margin_lower);
    }
    expected.psi_upper = torch::cat(psi);
    expected.certified = torch::cat(is_certified);
    expected.margin_lower = torch::cat(margin);
    EXPECT_TENSORS_EQUAL(record.dataset(schema::kPsiUpper), expected.psi_upper);
    EXPECT_TENSORS_EQUAL(record.dataset(schema::kCertified), expected.certified);
    EXPECT_TENSORS_EQUAL(record.dataset(schema::kMarginLower), expected.margin_lower);
    const std::string method = record.text(std::string(schema::kSettingPrefix) + "method");
    certified_accuracy[method] =
        record.number(std::string(schema::kHeadlinePrefix) + schema::kCertifiedAccuracy);
    EXPECT_DOUBLE_EQ(certified_accuracy[method],
                     expected.certified.to(torch::kFloat64).mean().item<double>());
  }
  ASSERT_EQ(certified_accuracy.size(), 2u);
  EXPECT_GE(certified_accuracy["crown"], certified_accuracy["ibp"]);  // CROWN-IBP is never looser
}

TEST_F(StoreAndRunner, AFailingTaskIsARecordWithItsMessageNotAnException) {
  TaskRunner runner(spec, torch::kCPU);
  const Record record = runner.run(task_of("nan", "metric", 0));
  EXPECT_EQ(record.text(schema::kStatus), "failed");
  EXPECT_NE(record.text(schema::kMessage).find("NaN or infinite"), std::string::npos)
      << record.text(schema::kMessage);
  EXPECT_TRUE(record.datasets.empty());
  EXPECT_EQ(record.text(schema::kModel), "nan");  // still says which task it was
}

TEST_F(StoreAndRunner, ConsecutiveTasksOfAModelLoadItOnceAndATransferLoadsItsSubstitute) {
  TaskRunner runner(spec, torch::kCPU);
  runner.run(task_of("a", "metric", 0));
  runner.run(task_of("a", "metric", 1));
  EXPECT_EQ(runner.models_loaded(), 1);
  const Record transfer = runner.run(task_of("a", "transfer", 0));
  ASSERT_EQ(transfer.text(schema::kStatus), "completed") << transfer.text(schema::kMessage);
  EXPECT_EQ(runner.models_loaded(), 2);  // b, the substitute
  EXPECT_EQ(transfer.text(std::string(schema::kSettingPrefix) + "substitute"), "b");
  runner.run(task_of("a", "transfer", 1));
  EXPECT_EQ(runner.models_loaded(), 2);  // both kept
}

TEST_F(StoreAndRunner, AModelFileReplacedMidRunFailsItsTasksNamingBothHashes) {
  TaskRunner runner(spec, torch::kCPU);
  ASSERT_EQ(runner.run(task_of("a", "metric", 0)).text(schema::kStatus), "completed");
  const std::string planned = spec.models[0].content_hash;
  testing::save_mlp(dir.file("a.pt"), 9);  // other weights under the same name
  const std::string now = file_hash(dir.file("a.pt"));
  ASSERT_NE(now, planned);
  const auto expect_refused = [&](const Record& record) {
    EXPECT_EQ(record.text(schema::kStatus), "failed");
    const std::string message = record.text(schema::kMessage);
    EXPECT_NE(message.find(dir.file("a.pt") +
                           ": has changed while the run used it: its tasks were "
                           "planned for hash " +
                           planned + ", the file now hashes to " + now),
              std::string::npos)
        << message;
  };
  // A worker that loads the model only now (another rank, a later slot) refuses the new bytes.
  TaskRunner late(spec, torch::kCPU);
  expect_refused(late.run(task_of("a", "metric", 1)));
  // The first worker still holds the bytes it checked: its tasks keep the planned hash.
  const Record cached = runner.run(task_of("a", "metric", 1));
  ASSERT_EQ(cached.text(schema::kStatus), "completed");
  EXPECT_EQ(cached.text(schema::kModelFileHash), planned);
  // Once the model has left its two-model cache, reloading it is refused too.
  ASSERT_EQ(runner.run(task_of("b", "metric", 0)).text(schema::kStatus), "completed");
  expect_refused(runner.run(task_of("nan", "metric", 0)));  // a.pt again, reparameterised
  ASSERT_EQ(runner.run(task_of("b", "metric", 1)).text(schema::kStatus), "completed");
  expect_refused(runner.run(task_of("a", "metric", 0)));
}

TEST_F(StoreAndRunner, AFunctionPreservingCopyGivesBitIdenticalNumbersUnderCommonRandomNumbers) {
  // ReLU rescaling by 4 scales a layer by a power of two and the next by its inverse: exact in
  // floating point, the same function. With every model of a setting drawing the same random
  // starts, even randomly started procedures must then agree bit for bit.
  const ExperimentSpec copies = parse_spec(
      "name: crn\nseed: 3\noutput: " + dir.file("crn.h5") + "\ndata: {dir: " + testing::data_dir() +
          "}\nsamples: {count: 10, shard_size: 10, batch_size: 5}\nmodels:\n"
          "  - {name: base, checkpoint: " +
          dir.file("a.pt") + "}\n  - {name: copy, checkpoint: " + dir.file("a.pt") +
          ", reparameterize: {relu_rescale: 4}}\nprocedures:\n"
          "  metric: {epsilon: 0.1, steps: 5, restarts: 2}\n"
          "  attacks:\n    - {name: pgd, epsilon: 0.1, steps: 5, restarts: 2}\n"
          "    - {name: apgd-ce, epsilon: 0.1, steps: 5}\n",
      dir.file("crn.yaml"));
  ExperimentSpec resolved = copies;
  resolve_models(resolved, false);
  const std::vector<Task> tasks = plan_tasks(resolved);
  TaskRunner runner(resolved, torch::kCPU);
  const size_t per_model = tasks.size() / 2;
  ASSERT_EQ(per_model, 3u);
  for (size_t i = 0; i < per_model; ++i) {
    const Task& base = tasks[i];
    const Task& copy = tasks[i + per_model];
    ASSERT_EQ(resolved.models[copy.model].name, "copy");
    EXPECT_EQ(base.seed, copy.seed);
    const Record a = runner.run(base), b = runner.run(copy);
    ASSERT_EQ(a.text(schema::kStatus), "completed") << a.text(schema::kMessage);
    ASSERT_EQ(b.text(schema::kStatus), "completed") << b.text(schema::kMessage);
    ASSERT_EQ(a.datasets.size(), b.datasets.size());
    for (const auto& [name, data] : a.datasets) {
      SCOPED_TRACE(std::string(resolved.procedures[base.procedure].kind()) + " " + name);
      EXPECT_TRUE(torch::equal(data, b.datasets.at(name)));
    }
  }
}

TEST_F(StoreAndRunner, VerifyingATaskChecksStatusKeySamplesAndData) {
  TaskRunner runner(spec, torch::kCPU);
  const Task& task = task_of("a", "metric", 0);
  Record record = runner.run(task);
  record.set(schema::kChecksum, record_checksum(record));
  std::string why;
  EXPECT_TRUE(verify_task(record, task, why)) << why;
  Record altered = record;
  altered.datasets[schema::kPsi] = record.dataset(schema::kPsi) + 1;
  EXPECT_FALSE(verify_task(altered, task, why));
  EXPECT_EQ(why, "its data do not match the stored checksum");
  EXPECT_FALSE(verify_task(record, task_of("a", "metric", 1), why));
  EXPECT_NE(why.find("its key is"), std::string::npos);
  Record untyped = record;
  untyped.set(schema::kStatus, int64_t{1});
  EXPECT_FALSE(verify_task(untyped, task, why));
  EXPECT_NE(why.find("is not text"), std::string::npos) << why;
}

TEST_F(StoreAndRunner, TheMergedFileHoldsExactlyThePlansVerifiedTasksAndTheModels) {
  const ResultStore store(spec.output);
  store.check_compatible(spec, false);
  store.record_spec(spec);
  TaskRunner runner(spec, torch::kCPU);
  const Task& done = task_of("a", "metric", 0);
  const Task& failed = task_of("nan", "metric", 0);
  store.folder().write_task(runner.run(done));
  store.folder().write_task(runner.run(failed));
  // A stray file of another plan is ignored, an unreadable one is noted.
  Record stray = runner.run(done);
  stray.set(schema::kId, std::string("0000000000000000"));
  store.folder().write_task(stray);
  testing::write_file(store.folder().path() + "/tasks/1111111111111111.h5", "garbage");
  std::vector<std::string> notes;
  EXPECT_EQ(store.completed_tasks(plan, notes).size(), 1u);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("1111111111111111.h5"), std::string::npos) << notes[0];

  const ResultStore::MergeSummary summary =
      store.merge(spec, alarms_of, {{"extra", std::string("x")}});
  EXPECT_EQ(summary.planned, static_cast<int64_t>(plan.size()));
  EXPECT_EQ(summary.completed, 1);
  EXPECT_EQ(summary.failed, 1);
  EXPECT_FALSE(fs::exists(spec.output + ".partial"));
  const StoredResults stored = read_results(spec.output);
  EXPECT_EQ(stored.schema, schema::kResults);
  EXPECT_EQ(stored.tasks.size(), 2u);
  EXPECT_TRUE(stored.tasks.count(done.id));
  EXPECT_TRUE(stored.tasks.count(failed.id));
  EXPECT_EQ(std::get<std::string>(stored.root.at("extra")), "x");
  EXPECT_EQ(std::get<int64_t>(stored.root.at(schema::kTasksCompleted)), 1);
  EXPECT_EQ(stored.models.text(schema::kModelHash, "b"), spec.models[1].content_hash);
  EXPECT_EQ(stored.models.text(schema::kModelRecipe, "a"), "natural");
  EXPECT_EQ(stored.models.number(
                std::string(schema::kReparameterizationPrefix) + "last_layer_scale", "nan"),
            1e300);
  // Planned from the stored text and models alone: the same tasks, no file read.
  fs::remove(dir.file("a.pt"));
  const ExperimentSpec again = stored_spec(stored, spec.output);
  const std::vector<Task> replanned = plan_tasks(again);
  ASSERT_EQ(replanned.size(), plan.size());
  for (size_t i = 0; i < plan.size(); ++i) EXPECT_EQ(replanned[i].id, plan[i].id);
}

TEST_F(StoreAndRunner, AnotherSpecOrAChangedModelIsRefusedUnlessForced) {
  const ResultStore store(spec.output);
  store.record_spec(spec);
  ExperimentSpec other = spec;
  other.text += "\n# changed\n";
  EXPECT_ERROR_CONTAINING(store.check_compatible(other, false),
                          "holds results of a different spec");
  store.check_compatible(other, true);
  ExperimentSpec retrained = spec;
  retrained.models[1].content_hash = "ffffffffffffffff";
  EXPECT_ERROR_CONTAINING(store.check_compatible(retrained, false),
                          "model b: " + dir.file("b.pt") +
                              " has changed since its stored results "
                              "were computed (stored hash " +
                              spec.models[1].content_hash + ", now ffffffffffffffff)");
  store.check_compatible(retrained, true);
}

// batch_size: auto gives each model the largest divisor of the shard within the budget, records it
// with the models and in every task, plans the tasks a spec with that number would, and is taken
// from the record by later runs of the same spec rather than measured again.
TEST_F(StoreAndRunner, BatchSizeAutoIsMeasuredOnceRecordedAndKeptByLaterRuns) {
  apply_host_memory_settings({HostMemoryPolicy::kCache, size_t{256} << 20});
  const std::string text = "name: auto\nseed: 3\noutput: " + dir.file("auto.h5") +
                           "\ndata: {dir: " + testing::data_dir() +
                           "}\nsamples: {count: 100, shard_size: 100, batch_size: auto, "
                           "batch_memory_mib: 1}\nmodels:\n  - {name: a, checkpoint: " +
                           dir.file("a.pt") +
                           "}\nprocedures:\n  metric: {epsilon: 0.1, steps: 3}\n";
  ExperimentSpec automatic = parse_spec(text, dir.file("auto.yaml"));
  resolve_models(automatic, false);
  EXPECT_EQ(automatic.models[0].batch_size, 0);
  std::vector<std::string> lines;
  const auto log = [&](const std::string& line) { lines.push_back(line); };
  resolve_batch_sizes(automatic, Record(), log);
  // An MLP with 32 hidden units keeps input-sized tensors only (its normalised input, gradients)
  // besides the attack state: about 10 inputs of 3,136 bytes a sample. 25 samples fit 1 MiB, 50
  // not.
  EXPECT_EQ(automatic.models[0].batch_size, 25);
  ASSERT_EQ(lines.size(), 1u);
  std::smatch match;
  ASSERT_TRUE(std::regex_search(lines[0], match,
                                std::regex("^model a: batch_size 25 \\(([0-9]+) KiB per sample")))
      << lines[0];
  EXPECT_NEAR(std::stod(match[1]), 10 * 3136 / 1024.0, 2.5) << lines[0];

  std::string numeric_text = text;
  numeric_text.replace(numeric_text.find("batch_size: auto, batch_memory_mib: 1"), 37,
                       "batch_size: 25");
  ExperimentSpec numeric = parse_spec(numeric_text, dir.file("numeric.yaml"));
  resolve_models(numeric, false);
  const Task task = plan_tasks(automatic).at(0);
  EXPECT_NE(task.setting_key.find("|batch_size=25"), std::string::npos) << task.setting_key;
  EXPECT_EQ(plan_tasks(numeric).at(0).id, task.id);
  TaskRunner runner(automatic, torch::kCPU);
  const Record record = runner.run(task);
  ASSERT_EQ(record.text(schema::kStatus), "completed") << record.text(schema::kMessage);
  EXPECT_EQ(record.integer(schema::kBatchSize), 25);
  EXPECT_TENSORS_EQUAL(record.dataset(schema::kPsi),
                       TaskRunner(numeric, torch::kCPU).run(task).dataset(schema::kPsi));

  // Recorded with the models, in the task folder and in the merged file.
  const ResultStore store(automatic.output);
  store.record_spec(automatic);
  store.folder().write_task(record);
  store.merge(automatic, alarms_of);
  const StoredResults stored = read_results(automatic.output);
  EXPECT_EQ(stored.models.integer(schema::kModelBatchSize, "a"), 25);
  EXPECT_EQ(plan_tasks(stored_spec(stored, automatic.output)).at(0).id, task.id);

  // A later run takes the recorded number (here made 10) without measuring; for another model
  // file it measures again.
  Record recorded = store.recorded_spec().models;
  recorded.set(schema::kModelBatchSize, int64_t{10}, "a");
  ExperimentSpec later = parse_spec(text, dir.file("auto.yaml"));
  resolve_models(later, false);
  lines.clear();
  resolve_batch_sizes(later, recorded, log);
  EXPECT_EQ(later.models[0].batch_size, 10);
  EXPECT_TRUE(lines.empty());
  recorded.set(schema::kModelHash, std::string("ffffffffffffffff"), "a");
  resolve_batch_sizes(later, recorded, log);
  EXPECT_EQ(later.models[0].batch_size, 25);
  EXPECT_EQ(lines.size(), 1u);
}

TEST_F(StoreAndRunner, AFileOfAnOtherSchemaIsRefusedNamingBothVersions) {
  {
    Hdf5File file(dir.file("old.h5"), Hdf5File::Mode::kCreate);
    file.write_attribute("/", schema::kSchema, std::string("robustscope-results/1"));
    file.write_attribute("/", schema::kSpecText, std::string("name: x"));
  }
  EXPECT_ERROR_CONTAINING(read_results(dir.file("old.h5")),
                          "was written with schema robustscope-results/1; this version of "
                          "robustscope reads robustscope-results/2 only");
  EXPECT_ERROR_CONTAINING(read_results(dir.file("none.h5")), "no such results file");
}

}  // namespace
}  // namespace robustscope
