// Experiment specs: a YAML file naming models, procedures (metric, attack, ensemble, landscape
// settings; any value may be a list, and lists expand into a grid), the samples and their shards,
// seeds, device and output (docs/specs.md). Parsing validates everything it can before anything
// runs and names file:line:column in every error; plan_tasks expands the spec into tasks.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/attack/attacks.hpp"
#include "core/landscape/landscape.hpp"
#include "core/metric/robustness_metric.hpp"
#include "core/models/model_source.hpp"
#include "core/models/reparameterize.hpp"

namespace robustscope {

struct ModelSpec {
  std::string name;
  ModelSource source;                           // checkpoint or torchscript file
  std::string dataset;                          // mnist | cifar10: given, or the checkpoint's own
  std::map<std::string, std::string> training;  // `train:` settings (a recipe to make a missing
                                                // checkpoint), empty when none
  Reparameterization reparameterization;        // `reparameterize:` (invariance study)
  std::string location;                         // file:line:column of the entry
};

// One expanded procedure setting: a single point of a procedure's grid.
struct Procedure {
  std::string kind;  // metric | attack | ensemble | landscape | noop
  MetricConfig metric;
  std::vector<AttackConfig> attacks;  // one for an attack, the members for an ensemble
  LandscapeConfig landscape;
  int64_t sample_limit = 0;  // landscape: its first N samples of the selection (0: all)
  std::string location;

  // Every setting as text, in a fixed order: what the task key, the result file and the report
  // show. Members of an ensemble are prefixed "1.", "2.", ….
  std::map<std::string, std::string> entries() const;
  // "attack(epsilon=0.1,name=pgd,…)": unique per setting, stable across versions of the spec.
  std::string key() const;
};

struct SampleSelection {
  std::string split = "test";
  int64_t offset = 0;        // first sample of the split
  int64_t count = 0;         // how many (required)
  int64_t shard_size = 500;  // samples per task
  int64_t batch_size = 250;  // samples per forward pass inside a task
};

struct ExperimentSpec {
  std::string path;  // where it was read from (for messages)
  std::string text;  // the file's exact text: stored in every result file
  std::string name;
  uint64_t seed = 0;
  std::string device = "auto";
  int threads = 0;  // per rank; 0: the node's cores divided among its ranks
  std::string output;
  std::string data_dir = "data";
  SampleSelection samples;
  std::vector<ModelSpec> models;
  std::vector<Procedure> procedures;
};

// Parses and validates. Relative paths in the spec are taken relative to the working directory.
ExperimentSpec parse_spec(const std::string& text, const std::string& path);
ExperimentSpec load_spec(const std::string& path);

// Checks what `run` needs and `plan` does not: every model file exists (or can be trained).
void check_spec_files(const ExperimentSpec& spec);

struct Task {
  size_t model = 0;      // index into spec.models
  size_t procedure = 0;  // index into spec.procedures
  int64_t shard = 0;
  int64_t first_sample = 0;  // index into the split
  int64_t sample_count = 0;
  std::string setting_key;  // model and procedure: shared by a setting's shards
  std::string key;          // setting_key and shard
  std::string id;           // 16 hex digits of the key's hash: the task's name in files
  uint64_t seed = 0;        // from (spec seed, setting key): the same whatever the sharding
};

// Models × procedures × shards, in that nesting order (a rank keeps its model across tasks).
std::vector<Task> plan_tasks(const ExperimentSpec& spec);

// Estimated passes of a task: F (forward) and F+B (forward and backward) per task.
struct TaskCost {
  double forward = 0;
  double forward_backward = 0;
};
TaskCost estimate_cost(const ExperimentSpec& spec, const Task& task);

// FNV-1a 64 of a text, as 16 hex digits; and the mixing of a seed with a text.
std::string text_hash(const std::string& text);
uint64_t derive_seed(uint64_t seed, const std::string& text);

}  // namespace robustscope
