// The batch commands around an experiment spec: plan (expand and cost, run nothing), run (the MPI
// sweep with resume), inspect (what a results file holds) and merge (assemble it from task files).
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "cli/command_options.hpp"
#include "core/error.hpp"
#include "core/runtime/device.hpp"
#include "core/train/training_job.hpp"
#include "engine/run/coordinator.hpp"
#include "engine/spec/experiment_spec.hpp"
#include "engine/store/result_store.hpp"

namespace robustscope::cli {
namespace {

std::string count_text(double value) {
  char text[32];
  if (value >= 1e9)
    std::snprintf(text, sizeof(text), "%.2fG", value / 1e9);
  else if (value >= 1e6)
    std::snprintf(text, sizeof(text), "%.2fM", value / 1e6);
  else if (value >= 1e3)
    std::snprintf(text, sizeof(text), "%.1fk", value / 1e3);
  else
    std::snprintf(text, sizeof(text), "%.0f", value);
  return text;
}

// The spec a results file or task folder was made by, parsed again for its plan.
ExperimentSpec stored_spec(const StoredResults& results) {
  return parse_spec(results.spec_text,
                    results.spec_path.empty() ? "(stored spec)" : results.spec_path);
}

}  // namespace

int plan_command(const Arguments& arguments) {
  std::string spec_path;
  po::options_description options("plan options");
  options.add_options()("spec", po::value(&spec_path)->required(), "experiment spec (YAML)");
  po::positional_options_description positional;
  if (!parse_command("plan", "Expands a spec into tasks and estimates their cost; runs nothing.",
                     options, arguments, {"spec"})) {
    return 0;
  }
  const ExperimentSpec spec = load_spec(spec_path);
  const std::vector<Task> plan = plan_tasks(spec);
  std::printf(
      "spec %s (name %s, hash %s): %zu models x %zu procedure settings, %ld samples in "
      "shards of %ld -> %zu tasks\n\n",
      spec_path.c_str(), spec.name.c_str(), text_hash(spec.text).c_str(), spec.models.size(),
      spec.procedures.size(), spec.samples.count, spec.samples.shard_size, plan.size());
  std::printf("%-14s %-9s %6s %8s %10s %10s  %s\n", "model", "kind", "tasks", "samples", "est. F",
              "est. F+B", "setting");
  double total_forward = 0, total_forward_backward = 0;
  for (size_t begin = 0; begin < plan.size();) {
    size_t end = begin;
    int64_t samples = 0;
    TaskCost cost;
    while (end < plan.size() && plan[end].setting_key == plan[begin].setting_key) {
      const TaskCost task_cost = estimate_cost(spec, plan[end]);
      cost.forward += task_cost.forward;
      cost.forward_backward += task_cost.forward_backward;
      samples += plan[end].sample_count;
      ++end;
    }
    const Procedure& procedure = spec.procedures[plan[begin].procedure];
    std::printf("%-14s %-9s %6zu %8ld %10s %10s  %s\n", spec.models[plan[begin].model].name.c_str(),
                procedure.kind.c_str(), end - begin, samples, count_text(cost.forward).c_str(),
                count_text(cost.forward_backward).c_str(), procedure.key().c_str());
    total_forward += cost.forward;
    total_forward_backward += cost.forward_backward;
    begin = end;
  }
  std::printf("\ntotal: %zu tasks, est. %s forward and %s forward+backward passes\n", plan.size(),
              count_text(total_forward).c_str(), count_text(total_forward_backward).c_str());
  for (const ModelSpec& model : spec.models) {
    if (!std::filesystem::exists(model.source.path)) {
      std::printf("note: model %s: %s does not exist yet%s\n", model.name.c_str(),
                  model.source.path.c_str(),
                  model.training.empty() ? " (run will refuse)" : " (run trains it)");
    }
  }
  const ResultStore store(spec.output);
  if (std::filesystem::exists(store.output()) || std::filesystem::exists(store.task_dir())) {
    std::vector<std::string> notes;
    const size_t complete = store.completed_tasks(plan, notes).size();
    std::printf("output %s: %zu of %zu tasks complete\n", spec.output.c_str(), complete,
                plan.size());
  }
  return 0;
}

int prepare_command(const Arguments& arguments) {
  std::string spec_path, data_dir;
  RuntimeOptions runtime;
  po::options_description options("prepare options");
  options.add_options()("spec", po::value(&spec_path)->required(), "experiment spec (YAML)")(
      "data-dir", po::value(&data_dir), "folder holding <dataset>/ (overrides the spec's)");
  add_runtime_options(options, runtime);
  if (!parse_command("prepare",
                     "Trains the spec's models whose checkpoints are missing, by their train: "
                     "settings (under mpirun, ranks share the models out).",
                     options, arguments, {"spec"})) {
    return 0;
  }
  ExperimentSpec spec = load_spec(spec_path);
  if (!data_dir.empty()) spec.data_dir = data_dir;
  // One training per missing checkpoint file: reparameterised entries share their base's file.
  std::vector<const ModelSpec*> missing;
  std::set<std::string> paths;
  for (const ModelSpec& model : spec.models) {
    if (std::filesystem::exists(model.source.path) || model.training.empty()) continue;
    if (paths.insert(model.source.path).second) missing.push_back(&model);
  }
  for (const ModelSpec& model : spec.models) {
    if (!std::filesystem::exists(model.source.path) && !paths.count(model.source.path))
      throw Error(model.location,
                  "model " + model.name + ": " + model.source.path +
                      " does not exist and no model entry has train: settings for it");
  }
  MpiSession mpi(nullptr, nullptr);
  if (mpi.rank() == 0)
    std::printf("%s: %zu of %zu models to train on %d rank%s\n", spec.name.c_str(), missing.size(),
                spec.models.size(), mpi.size(), mpi.size() == 1 ? "" : "s");
  // Ranks of one node share its cores (as run does), unless --threads says otherwise.
  if (runtime.threads == 0 && mpi.size() > 1)
    runtime.threads = std::max(1, available_cores() / mpi.size());
  const torch::Device device = apply_runtime_options(runtime);
  for (size_t i = mpi.rank(); i < missing.size(); i += mpi.size()) {
    const ModelSpec& model = *missing[i];
    TrainingJob job = TrainingJob::from_settings(model.training, model.dataset);
    if (!model.training.count("seed"))
      job.config.seed = derive_seed(spec.seed, "train|" + model.name);
    std::filesystem::create_directories(std::filesystem::absolute(model.source.path).parent_path());
    const std::string name = model.name;
    run_training_job(job, spec.data_dir, model.source.path, device,
                     [&name](const std::string& line) {
                       std::printf("[%s] %s\n", name.c_str(), line.c_str());
                       std::fflush(stdout);
                     });
  }
  return 0;
}

int run_command(const Arguments& arguments) {
  std::string spec_path, output, data_dir;
  RunOptions run_options;
  bool quiet = false;
  po::options_description options("run options");
  options.add_options()("spec", po::value(&spec_path)->required(), "experiment spec (YAML)")(
      "output", po::value(&output), "results file (overrides the spec's output)")(
      "data-dir", po::value(&data_dir), "folder holding <dataset>/ (overrides the spec's)")(
      "force", po::bool_switch(&run_options.force),
      "resume an output made by a different spec, reusing the tasks whose settings still match")(
      "device", po::value(&run_options.device), "overrides the spec's device")(
      "threads", po::value(&run_options.threads), "threads per rank (overrides the spec's)")(
      "quiet", po::bool_switch(&quiet), "no line per finished task");
  if (!parse_command("run",
                     "Runs a spec's tasks over MPI ranks (mpirun -np N robustscope run spec.yaml); "
                     "resumes an existing output.",
                     options, arguments, {"spec"})) {
    return 0;
  }
  ExperimentSpec spec = load_spec(spec_path);
  if (!output.empty()) spec.output = output;
  if (!data_dir.empty()) spec.data_dir = data_dir;
  run_options.progress = !quiet;
  MpiSession mpi(nullptr, nullptr);
  const RunSummary summary = run_experiment(spec, run_options);
  if (!summary.started) return 1;
  if (mpi.rank() != 0) return 0;
  const double computed = static_cast<double>(summary.computed + summary.failed);
  std::printf(
      "\n%ld tasks: %ld skipped (complete), %ld computed, %ld failed in %.1f s (%.2f "
      "tasks/s on %d ranks)\nresults: %s\n",
      summary.planned, summary.skipped, summary.computed, summary.failed, summary.seconds,
      summary.seconds > 0 ? computed / summary.seconds : 0.0, mpi.size(), spec.output.c_str());
  const double tasks = std::max(computed, 1.0);
  std::printf(
      "coordinator: %.2f ms writing per task (rank 0); workers waited %.2f ms per task for "
      "their next assignment\n",
      1e3 * summary.write_seconds / tasks, 1e3 * summary.assignment_wait_seconds / tasks);
  for (const std::string& failure : summary.failures) std::printf("failed: %s\n", failure.c_str());
  return summary.failed > 0 ? 3 : 0;
}

int merge_command(const Arguments& arguments) {
  std::string output;
  po::options_description options("merge options");
  options.add_options()("results", po::value(&output)->required(), "results file (HDF5)");
  if (!parse_command("merge", "Assembles a results file from its task folder (<results>.d).",
                     options, arguments, {"results"})) {
    return 0;
  }
  ExperimentSpec spec = stored_spec(read_results(output));
  spec.output = output;
  const ResultStore::MergeSummary summary = ResultStore(output).merge(spec);
  std::printf("%s: %ld tasks planned, %ld completed, %ld failed, %ld pending\n", output.c_str(),
              summary.planned, summary.completed, summary.failed,
              summary.planned - summary.completed - summary.failed);
  return 0;
}

int inspect_command(const Arguments& arguments) {
  std::string output;
  bool show_spec = false;
  po::options_description options("inspect options");
  options.add_options()("results", po::value(&output)->required(), "results file (HDF5)")(
      "spec", po::bool_switch(&show_spec), "print the spec's full text");
  if (!parse_command("inspect", "Prints what a results file holds.", options, arguments,
                     {"results"})) {
    return 0;
  }
  const StoredResults results = read_results(output);
  std::printf("results %s\nschema %s\n", output.c_str(), results.schema.c_str());
  for (const char* name : {"name", "spec_hash", "spec_path", "code_version", "libtorch_version",
                           "hdf5_version", "mpi_version", "merged_at", "last_run_rank_layout"}) {
    const auto found = results.root.find(name);
    if (found == results.root.end()) continue;
    if (const auto* text = std::get_if<std::string>(&found->second))
      std::printf("%-22s %s\n", name, text->c_str());
  }
  for (const Record& run : results.runs) {
    std::printf("run %s: %s .. %s, %ld ranks, %ld computed, %ld failed, %ld skipped\n",
                run.text("run_id").c_str(), run.text("started").c_str(), run.text("ended").c_str(),
                run.integer("ranks"), run.integer("tasks_computed"), run.integer("tasks_failed"),
                run.integer("tasks_skipped"));
  }
  if (show_spec) std::printf("\n--- spec ---\n%s--- end of spec ---\n", results.spec_text.c_str());

  const ExperimentSpec spec = stored_spec(results);
  const std::vector<Task> plan = plan_tasks(spec);
  std::vector<const Task*> pending;
  std::vector<const Record*> failed;
  // Headline numbers per setting over its completed shards.
  struct Headline {
    std::string model, kind, setting;
    int64_t tasks = 0, shards = 0, samples = 0;
    double sum = 0, clean_correct = 0;
    int64_t clean_counted = 0;
  };
  std::map<std::string, Headline> headlines;
  std::vector<std::string> order;
  for (const Task& task : plan) {
    Headline& headline = headlines[task.setting_key];
    if (headline.tasks++ == 0) {
      order.push_back(task.setting_key);
      headline.model = spec.models[task.model].name;
      headline.kind = spec.procedures[task.procedure].kind;
      headline.setting = spec.procedures[task.procedure].key();
    }
    const auto found = results.tasks.find(task.id);
    std::string why;
    if (found == results.tasks.end()) {
      pending.push_back(&task);
      continue;
    }
    if (!verify_task(found->second, task, why)) {
      if (found->second.has("status") && found->second.text("status") == "failed")
        failed.push_back(&found->second);
      else
        pending.push_back(&task);
      continue;
    }
    const Record& record = found->second;
    ++headline.shards;
    headline.samples += task.sample_count;
    if (headline.kind == "metric") {
      headline.sum += record.datasets.at("psi").to(torch::kFloat64).sum().item<double>();
      headline.clean_correct +=
          record.datasets.at("clean_class").eq(record.datasets.at("labels")).sum().item<double>();
      headline.clean_counted += task.sample_count;
    } else if (headline.kind == "attack" || headline.kind == "ensemble") {
      headline.sum += (1 - record.datasets.at("broken").to(torch::kFloat64)).sum().item<double>();
    } else if (headline.kind == "landscape") {
      for (const auto& [path, values] : record.attributes) {
        const auto distance = values.find("boundary_adversarial_positive");
        if (distance != values.end()) headline.sum += std::get<double>(distance->second);
      }
    }
  }
  const int64_t completed = static_cast<int64_t>(plan.size() - pending.size() - failed.size());
  std::printf("\ntasks: %zu planned, %ld completed, %zu failed, %zu pending\n", plan.size(),
              completed, failed.size(), pending.size());
  for (const Record* record : failed)
    std::printf("  failed %s: %s\n", record->text("key").c_str(), record->text("message").c_str());
  for (size_t i = 0; i < pending.size() && i < 20; ++i)
    std::printf("  pending %s\n", pending[i]->key.c_str());
  if (pending.size() > 20) std::printf("  … and %zu more pending\n", pending.size() - 20);

  std::printf("\n%-14s %-9s %7s %8s %12s %10s  %s\n", "model", "kind", "shards", "samples",
              "headline", "clean acc", "setting");
  for (const std::string& key : order) {
    const Headline& h = headlines.at(key);
    if (h.shards == 0) continue;
    const char* what = h.kind == "metric"      ? "psi mean"
                       : h.kind == "landscape" ? "+d1 dist."
                       : h.kind == "noop"      ? "-"
                                               : "robust acc";
    const double value = h.kind == "landscape" ? h.sum / h.samples
                         : h.samples > 0       ? h.sum / h.samples
                                               : 0;
    char clean[16] = "-";
    if (h.clean_counted > 0)
      std::snprintf(clean, sizeof(clean), "%.4f", h.clean_correct / h.clean_counted);
    std::printf("%-14s %-9s %3ld/%-3ld %8ld %12.4f %10s  %s (%s)\n", h.model.c_str(),
                h.kind.c_str(), h.shards, h.tasks, h.samples, value, clean, h.setting.c_str(),
                what);
  }
  return 0;
}

}  // namespace robustscope::cli
