// robustscope plan: expands a spec into tasks and estimates their cost; runs nothing.
#include <cstdio>
#include <filesystem>

#include "cli/command_options.hpp"
#include "core/error.hpp"
#include "engine/run/task_runner.hpp"
#include "engine/spec/task_plan.hpp"
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

}  // namespace

int plan_command(const Arguments& arguments) {
  std::string spec_path;
  po::options_description options("plan options");
  options.add_options()("spec", po::value(&spec_path)->required(), "experiment spec (YAML)");
  if (!parse_command("plan", "Expands a spec into tasks and estimates their cost; runs nothing.",
                     options, arguments, {"spec"})) {
    return 0;
  }
  ExperimentSpec spec = load_spec(spec_path);
  resolve_models(spec, /*allow_missing=*/true);
  check_procedures_against_data(spec);
  const ResultStore store(spec.output);
  if (spec.samples.batch_auto)
    resolve_batch_sizes(spec, store.recorded_models_of(spec),
                        [](const std::string& line) { std::printf("%s\n", line.c_str()); });
  const std::vector<Task> plan = plan_tasks(spec);
  std::printf(
      "spec %s (name %s, hash %s): %zu models x %zu procedure settings, %ld samples in shards of "
      "%ld -> %zu tasks\n\n",
      spec_path.c_str(), spec.name.c_str(), text_hash(spec.text).c_str(), spec.models.size(),
      spec.procedures.size(), spec.samples.count, spec.samples.shard_size, plan.size());
  std::printf("%-14s %-9s %6s %8s %10s %10s  %s\n", "model", "kind", "tasks", "samples", "est. F",
              "est. F+B", "setting");
  double total_forward = 0, total_forward_backward = 0;
  for (size_t begin = 0; begin < plan.size();) {
    size_t end = begin;
    int64_t samples = 0;
    PassCount cost;
    while (end < plan.size() && plan[end].setting_key == plan[begin].setting_key) {
      const PassCount task_cost = estimate_cost(spec, plan[end]);
      cost.forward += task_cost.forward;
      cost.forward_backward += task_cost.forward_backward;
      samples += plan[end].sample_count;
      ++end;
    }
    const Procedure& procedure = spec.procedures[plan[begin].procedure];
    std::printf("%-14s %-9s %6zu %8ld %10s %10s  %s\n", spec.models[plan[begin].model].name.c_str(),
                procedure.kind(), end - begin, samples, count_text(cost.forward).c_str(),
                count_text(cost.forward_backward).c_str(), procedure.key().c_str());
    total_forward += cost.forward;
    total_forward_backward += cost.forward_backward;
    begin = end;
  }
  std::printf("\ntotal: %zu tasks, est. %s forward and %s forward+backward passes\n", plan.size(),
              count_text(total_forward).c_str(), count_text(total_forward_backward).c_str());
  for (const ModelSpec& model : spec.models) {
    if (model.content_hash == "missing") {
      std::printf("note: model %s: %s does not exist yet (%s)\n", model.name.c_str(),
                  model.source.path.c_str(),
                  model.training.empty() ? "and has no train: settings: run will refuse"
                                         : "robustscope prepare trains it");
    }
  }
  if (std::filesystem::exists(store.output()) || store.folder().exists()) {
    std::vector<std::string> notes;
    const size_t complete = store.completed_tasks(plan, notes).size();
    std::printf("output %s: %zu of %zu tasks complete\n", spec.output.c_str(), complete,
                plan.size());
  }
  return 0;
}

}  // namespace robustscope::cli
