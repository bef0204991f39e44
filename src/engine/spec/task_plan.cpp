// The task plan.
#include "engine/spec/task_plan.hpp"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <queue>
#include <set>

#include "core/data/dataset.hpp"
#include "core/error.hpp"
#include "core/models/checkpoint.hpp"
#include "core/runtime/hashing.hpp"

namespace robustscope {

std::string text_hash(const std::string& text) { return fnv1a_hex(text); }

uint64_t derive_seed(uint64_t seed, const std::string& text) {
  // Kept below 2^63 so it fits the int64 attributes and settings it is written to.
  return splitmix64(fnv1a(text) ^ (seed * 0x9E3779B97F4A7C15ULL)) >> 1;
}

void resolve_models(ExperimentSpec& spec, bool allow_missing) {
  // A spec of no-op tasks (coordinator benchmarks) reads no model.
  const bool needs_models =
      std::any_of(spec.procedures.begin(), spec.procedures.end(),
                  [](const Procedure& procedure) { return procedure.needs_model(); });
  allow_missing = allow_missing || !needs_models;
  std::map<std::string, std::string> hashes;  // one read per file
  for (ModelSpec& model : spec.models) {
    if (model.training.count("recipe")) model.recipe = model.training.at("recipe");
    if (!std::filesystem::exists(model.source.path)) {
      if (!allow_missing) {
        throw Error(model.location,
                    "model " + model.name + ": " + model.source.kind + " file " +
                        model.source.path + " does not exist" +
                        (model.training.empty()
                             ? std::string(" (and it has no train: settings)")
                             : " (train it first: robustscope prepare " + spec.path + ")"));
      }
      model.content_hash = "missing";
      continue;
    }
    if (model.source.kind == "checkpoint") {
      try {
        const CheckpointMetadata metadata = read_checkpoint_metadata(model.source.path);
        if (model.dataset.empty()) model.dataset = metadata.dataset;
        if (metadata.recipe.count("name")) model.recipe = metadata.recipe.at("name");
      } catch (const Error& error) {
        throw Error(model.location, "model " + model.name + ": " + error.what());
      }
    }
    auto found = hashes.find(model.source.path);
    if (found == hashes.end())
      found = hashes.emplace(model.source.path, file_hash(model.source.path)).first;
    model.content_hash = found->second;
  }
}

void check_procedures_against_data(const ExperimentSpec& spec) {
  std::set<std::string> datasets;
  for (const ModelSpec& model : spec.models)
    if (!model.dataset.empty()) datasets.insert(model.dataset);
  for (size_t p = 0; p < spec.procedures.size(); ++p) {
    const Procedure& procedure = spec.procedures[p];
    for (const std::string& name : datasets) {
      const DatasetInfo info = dataset_info(name);
      for (const AttackConfig& attack : procedure.data_checks()) {
        try {
          validate_attack_for_data(attack, info.shape.elements(), info.num_classes);
        } catch (const Error& error) {
          const std::string& key = error.location().key;
          const auto& locations = spec.setting_locations[p];
          const auto at = locations.find(key);
          throw Error(at != locations.end() ? at->second : procedure.location,
                      key + ": " + error.message() + " (for " + name + ")");
        }
      }
    }
  }
}

int64_t count_tasks(const ExperimentSpec& spec) {
  int64_t tasks = 0;
  for (const Procedure& procedure : spec.procedures) {
    const int64_t count = procedure.sample_count(spec.samples.count);
    const int64_t shards = (count + spec.samples.shard_size - 1) / spec.samples.shard_size;
    tasks += shards;
  }
  return tasks * static_cast<int64_t>(spec.models.size());
}

std::vector<Task> plan_tasks(const ExperimentSpec& spec) {
  const int64_t planned = count_tasks(spec);
  if (planned > spec.max_tasks)
    throw Error(spec.path,
                "expands to " + std::to_string(planned) + " tasks, more than the " +
                    std::to_string(spec.max_tasks) +
                    " allowed (larger shards, fewer settings, or limits: {max_tasks: N})");
  std::vector<Task> tasks;
  tasks.reserve(static_cast<size_t>(planned));
  for (size_t m = 0; m < spec.models.size(); ++m) {
    const ModelSpec& model = spec.models[m];
    for (size_t p = 0; p < spec.procedures.size(); ++p) {
      const Procedure& procedure = spec.procedures[p];
      const int64_t count = procedure.sample_count(spec.samples.count);
      Task task;
      task.model = m;
      task.procedure = p;
      // Common random numbers: the seed comes from the setting alone, so every model of a setting
      // starts its ascents at the same points of the same samples (a function-preserving copy of
      // a model then gives the same numbers bit for bit, and a comparison of two models is not
      // blurred by their random starts).
      task.seed = procedure.seed ? *procedure.seed : derive_seed(spec.seed, procedure.key());
      task.setting_key =
          "model=" + model.name + "|" + procedure.key() + "|seed=" + std::to_string(task.seed);
      if (procedure.needs_model()) {
        // An unresolved `batch_size: auto` (only `plan`, before a model exists) says so.
        task.setting_key += "|model_hash=" + model.content_hash + "|batch_size=" +
                            (model.batch_size > 0 ? std::to_string(model.batch_size) : "auto");
      }
      for (int64_t first = 0, shard = 0; first < count; first += spec.samples.shard_size, ++shard) {
        task.shard = shard;
        task.first_sample = spec.samples.offset + first;
        task.sample_count = std::min(spec.samples.shard_size, count - first);
        task.key = task.setting_key + "|samples=" + std::to_string(task.first_sample) + "+" +
                   std::to_string(task.sample_count);
        task.id = text_hash(task.key);
        tasks.push_back(task);
      }
    }
  }
  return tasks;
}

PassCount estimate_cost(const ExperimentSpec& spec, const Task& task) {
  const PassCount per_sample = spec.procedures[task.procedure].cost_per_sample();
  const double n = static_cast<double>(task.sample_count);
  return {per_sample.forward * n, per_sample.forward_backward * n};
}

std::vector<bool> tasks_of_part(const ExperimentSpec& spec, const std::vector<Task>& plan, int part,
                                int parts) {
  if (parts < 1 || parts > kMostParts || part < 0 || part >= parts)
    throw Error("--part", std::to_string(part) + "/" + std::to_string(parts) +
                              ": needs 0 <= i < N <= " + std::to_string(kMostParts));
  std::vector<std::pair<double, size_t>> by_cost;  // (−cost, index): largest first, then in order
  by_cost.reserve(plan.size());
  for (size_t i = 0; i < plan.size(); ++i) {
    const PassCount cost = estimate_cost(spec, plan[i]);
    by_cost.emplace_back(-(cost.forward + 3 * cost.forward_backward), i);
  }
  std::sort(by_cost.begin(), by_cost.end());
  using Load = std::pair<double, int>;  // (cost so far, part)
  std::priority_queue<Load, std::vector<Load>, std::greater<Load>> loads;
  for (int p = 0; p < parts; ++p) loads.emplace(0.0, p);
  std::vector<bool> mine(plan.size(), false);
  for (const auto& [negative_cost, index] : by_cost) {
    const Load lightest = loads.top();
    loads.pop();
    mine[index] = lightest.second == part;
    loads.emplace(lightest.first - negative_cost, lightest.second);
  }
  return mine;
}

}  // namespace robustscope
