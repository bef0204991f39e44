// Experiment specs: a YAML file naming models, procedures (metric, attack, ensemble, transfer and
// landscape settings; any value may be a list, and lists expand into a grid), the samples and their
// shards, seeds, device and output (docs/specs.md). Parsing validates everything it can without
// touching a file and names file:line:column in every error; task_plan.hpp turns a spec into tasks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/models/model_source.hpp"
#include "core/models/reparameterize.hpp"
#include "engine/procedures/procedures.hpp"

namespace robustscope {

struct ModelSpec {
  std::string name;
  ModelSource source;                           // checkpoint or torchscript file
  std::string dataset;                          // mnist | fmnist | cifar10: given, or (resolved
                                                // later) the checkpoint's own
  std::map<std::string, std::string> training;  // `train:` settings (a recipe to make a missing
                                                // checkpoint), empty when none
  Reparameterization reparameterization;        // `reparameterize:` (invariance study)
  std::string location;                         // file:line:column of the entry
  std::string content_hash;                     // the file's FNV-1a (task_plan.hpp resolves it)
  std::string recipe;  // how it was trained (the checkpoint's recipe.name), "" when unknown
  // Samples per forward pass of this model's tasks: samples.batch_size, or with `batch_size: auto`
  // 0 until resolved (task_runner.hpp's resolve_batch_sizes).
  int64_t batch_size = 0;
};

struct SampleSelection {
  std::string split = "test";
  int64_t offset = 0;        // first sample of the split
  int64_t count = 0;         // how many (required)
  int64_t shard_size = 500;  // samples per task; a multiple of batch_size
  int64_t batch_size = 250;  // samples per forward pass inside a task
  // `batch_size: auto`: each model's batch is the largest divisor of shard_size whose measured
  // memory (core/models/batch_memory.hpp) fits batch_memory_mib; resolved once and stored.
  bool batch_auto = false;
  int64_t batch_memory_mib = 2048;
};

struct ExperimentSpec {
  std::string path;  // where it was read from (for messages)
  std::string text;  // the file's exact text: stored in every result file
  std::string name;
  uint64_t seed = 0;
  std::string device = "auto";
  int threads = 0;  // per rank; 0: the node's cores divided among its ranks
  std::string output;
  std::string data_dir;  // `data: {dir}`, else $ROBUSTSCOPE_DATA_DIR, else "data"
  SampleSelection samples;
  int64_t max_tasks = 200000;  // `limits: {max_tasks}`: a larger plan is refused before it is built
  std::vector<ModelSpec> models;
  std::vector<Procedure> procedures;
  // Where each procedure's settings were written ("file:line:column" by setting key), so checks
  // made later (against a data set) point at the value.
  std::vector<std::map<std::string, std::string>> setting_locations;

  const ModelSpec& model(const std::string& name) const;  // Error naming the known models
  // The model a reparameterised copy was made from: the first model of the spec without
  // `reparameterize:` whose file is the copy's (same bytes once resolved, else the same path);
  // nullptr for models that are not copies, or whose base is not in the spec.
  const ModelSpec* base_of(const ModelSpec& copy) const;
};

constexpr size_t kMaxSpecBytes = size_t{1} << 20;
// The most tasks `limits: {max_tasks}` may allow: a plan holds about half a KiB per task (its keys
// and id), so 2 million take about 1 GiB on rank 0 before anything runs.
constexpr int64_t kMostPlannedTasks = 2000000;

// Parses and validates; reads no other file. Relative paths in the spec are taken relative to the
// working directory.
ExperimentSpec parse_spec(const std::string& text, const std::string& path);
// Reads at most kMaxSpecBytes of a regular file and parses it.
ExperimentSpec load_spec(const std::string& path);

}  // namespace robustscope
