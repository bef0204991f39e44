// The task plan of a spec: models × procedure settings × shards, each task with a key, an id and a
// seed; the model files' data sets and content hashes the plan depends on; and costs.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/spec/experiment_spec.hpp"

namespace robustscope {

// Fills in what the plan needs from the model files: the data set of a checkpoint the spec does
// not give one for (from its metadata) and every file's content hash. A missing file is an Error
// naming the entry unless `allow_missing` (plan, before prepare), which leaves its hash "missing".
void resolve_models(ExperimentSpec& spec, bool allow_missing);

// Checks every procedure against the data set of every model it runs on: ε within the input
// domain, target classes below the class count. Errors point at the setting in the spec.
void check_procedures_against_data(const ExperimentSpec& spec);

struct Task {
  size_t model = 0;      // index into spec.models
  size_t procedure = 0;  // index into spec.procedures
  int64_t shard = 0;
  int64_t first_sample = 0;  // index into the split
  int64_t sample_count = 0;
  // "model=<name>|<procedure key>|seed=<seed>|model_hash=…|batch_size=…": everything the numbers
  // depend on. The seed derives from the spec's seed and the procedure key alone (common random
  // numbers across models), so it stays the same when a checkpoint is retrained, the batch size
  // changes or another model runs the setting.
  std::string setting_key;
  std::string key;  // setting_key and the samples
  std::string id;   // 16 hex digits of the key's hash: the task's name in files
  uint64_t seed = 0;
};

// Tasks the spec expands into, counted without building them.
int64_t count_tasks(const ExperimentSpec& spec);
// Models × procedures × shards, in that nesting order (a rank keeps its model across tasks).
// Error when more than spec.max_tasks.
std::vector<Task> plan_tasks(const ExperimentSpec& spec);

// Estimated forward (F) and forward+backward (F+B) passes of a whole task.
PassCount estimate_cost(const ExperimentSpec& spec, const Task& task);

// The most parts a sweep can be split into (`run --part i/N`).
constexpr int kMostParts = 100000;
// Which tasks of `plan` are part `part` of `parts` (0 <= part < parts): a split balanced by the
// estimated cost (largest task first, each to the part with the least so far, ties to the lower
// part), decided by the plan alone, so every part computes the same split whatever has run.
std::vector<bool> tasks_of_part(const ExperimentSpec& spec, const std::vector<Task>& plan, int part,
                                int parts);

// FNV-1a 64 of a text, as 16 hex digits; and the mixing of a seed with a text (SplitMix64).
std::string text_hash(const std::string& text);
uint64_t derive_seed(uint64_t seed, const std::string& text);

}  // namespace robustscope
