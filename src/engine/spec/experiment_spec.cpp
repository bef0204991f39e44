// YAML experiment specs: strict parsing (every error names file:line:column), grid expansion, and
// the task plan.
#include "engine/spec/experiment_spec.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/data/dataset.hpp"
#include "core/error.hpp"
#include "core/models/architectures.hpp"
#include "core/models/checkpoint.hpp"
#include "core/settings_text.hpp"
#include "core/train/training_job.hpp"

namespace robustscope {
namespace {

// Locations and typed scalars, each failing with file:line:column.
class SpecReader {
 public:
  explicit SpecReader(std::string path) : path_(std::move(path)) {}

  std::string where(const YAML::Node& node) const {
    const YAML::Mark mark = node.Mark();
    if (mark.is_null()) return path_;
    return path_ + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }
  [[noreturn]] void fail(const YAML::Node& node, const std::string& what) const {
    throw Error(where(node), what);
  }

  // The keys of a map, refusing duplicates and keys outside `allowed`.
  void check_keys(const YAML::Node& map, const std::string& what,
                  const std::vector<std::string>& allowed) const {
    if (!map.IsMap()) fail(map, what + " must be a map (key: value)");
    std::set<std::string> seen;
    for (const auto& item : map) {
      const std::string key = scalar(item.first, what + " key");
      if (!seen.insert(key).second) fail(item.first, "duplicate key \"" + key + "\" in " + what);
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string list;
        for (const auto& name : allowed) list += (list.empty() ? "" : ", ") + name;
        fail(item.first, "unknown key \"" + key + "\" in " + what + " (allowed: " + list + ")");
      }
    }
  }
  std::string scalar(const YAML::Node& node, const std::string& what) const {
    if (!node.IsScalar()) fail(node, what + " must be a single value, not a list or a map");
    return node.Scalar();
  }
  int64_t integer(const YAML::Node& node, const std::string& what, int64_t minimum) const {
    const std::string text = scalar(node, what);
    int64_t value = 0;
    try {
      value = parse_integer(what, text);
    } catch (const Error& error) {
      fail(node, error.what());
    }
    if (value < minimum)
      fail(node,
           what + " = " + text + " is out of range (at least " + std::to_string(minimum) + ")");
    return value;
  }

 private:
  std::string path_;
};

// One key of a procedure with its values: a scalar is one value, a list several.
struct GridAxis {
  std::string key;
  YAML::Node key_node;
  std::vector<YAML::Node> values;
};

struct GridValue {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};
using GridPoint = std::vector<GridValue>;

void collect_axes(const SpecReader& reader, const YAML::Node& map, const std::string& prefix,
                  const std::set<std::string>& reserved, std::vector<GridAxis>& axes) {
  for (const auto& item : map) {
    const std::string key = prefix + reader.scalar(item.first, "setting name");
    if (reserved.count(key)) continue;
    const YAML::Node& value = item.second;
    if (value.IsMap()) {
      collect_axes(reader, value, key + ".", reserved, axes);
      continue;
    }
    GridAxis axis{key, item.first, {}};
    if (value.IsSequence()) {
      if (value.size() == 0) reader.fail(value, key + ": an empty list expands to nothing");
      for (const auto& element : value) {
        reader.scalar(element, key + " (list element)");
        axis.values.push_back(element);
      }
    } else {
      reader.scalar(value, key);
      axis.values.push_back(value);
    }
    axes.push_back(axis);
  }
}

// The Cartesian product of the axes, in the spec's key order (the last key varies fastest).
std::vector<GridPoint> expand(const std::vector<GridAxis>& axes) {
  std::vector<GridPoint> points(1);
  for (const GridAxis& axis : axes) {
    std::vector<GridPoint> next;
    for (const GridPoint& point : points) {
      for (const YAML::Node& value : axis.values) {
        next.push_back(point);
        next.back().push_back({axis.key, axis.key_node, value});
      }
    }
    points = std::move(next);
  }
  return points;
}

// Applies one grid point to a config through its set(key, text). An unknown key is reported at
// the key, a bad value at the value.
template <typename Config>
void apply(const SpecReader& reader, Config& config, const GridPoint& point) {
  for (const GridValue& item : point) {
    try {
      config.set(item.key, item.value.Scalar());
    } catch (const Error& error) {
      const bool unknown_key = std::string(error.what())
                                   .find("\"" + item.key.substr(item.key.rfind('.') + 1) +
                                         "\" is unknown") != std::string::npos;
      reader.fail(unknown_key ? item.key_node : item.value, error.what());
    }
  }
}

// Validates a whole setting; the error is placed at the key it names when the point has it.
template <typename Config>
void validate(const SpecReader& reader, const Config& config, const YAML::Node& entry,
              const GridPoint& point) {
  try {
    config.validate();
  } catch (const Error& error) {
    for (const GridValue& item : point) {
      const std::string leaf = item.key.substr(item.key.rfind('.') + 1);
      if (error.where() == item.key || error.where() == leaf) reader.fail(item.value, error.what());
    }
    reader.fail(entry, error.what());
  }
}

std::vector<YAML::Node> as_list(const YAML::Node& node) {
  std::vector<YAML::Node> items;
  if (node.IsSequence()) {
    for (const auto& item : node) items.push_back(item);
  } else {
    items.push_back(node);
  }
  return items;
}

void check_attack_name(const SpecReader& reader, const YAML::Node& node) {
  const std::vector<std::string> known = known_attacks();
  for (const YAML::Node& value :
       node.IsSequence() ? as_list(node) : std::vector<YAML::Node>{node}) {
    const std::string name = reader.scalar(value, "attack name");
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (const auto& item : known) list += (list.empty() ? "" : ", ") + item;
      reader.fail(value, "unknown attack \"" + name + "\" (known: " + list + ")");
    }
  }
}

// cw-l2 is an L2 attack: its norm defaults to l2 unless the spec says otherwise.
AttackConfig attack_defaults(const std::string& name) {
  AttackConfig config;
  config.name = name;
  if (name == "cw-l2") config.norm = Norm::kL2;
  return config;
}

void parse_procedures(const SpecReader& reader, const YAML::Node& node, ExperimentSpec& spec) {
  reader.check_keys(node, "procedures", {"metric", "attacks", "ensembles", "landscape", "noop"});
  auto add = [&](Procedure procedure, const YAML::Node& at) {
    procedure.location = reader.where(at);
    spec.procedures.push_back(std::move(procedure));
  };
  if (node["metric"]) {
    for (const YAML::Node& entry : as_list(node["metric"])) {
      if (!entry.IsMap()) reader.fail(entry, "metric must be a map of settings or a list of maps");
      std::vector<GridAxis> axes;
      collect_axes(reader, entry, "", {}, axes);
      for (const auto& point : expand(axes)) {
        Procedure procedure;
        procedure.kind = "metric";
        apply(reader, procedure.metric, point);
        validate(reader, procedure.metric, entry, point);
        add(procedure, entry);
      }
    }
  }
  if (node["attacks"]) {
    const YAML::Node list = node["attacks"];
    if (!list.IsSequence()) reader.fail(list, "attacks must be a list of maps, each with a name");
    for (const YAML::Node& entry : list) {
      if (!entry.IsMap() || !entry["name"])
        reader.fail(entry, "each attack needs a name (e.g. {name: pgd, epsilon: 0.3})");
      check_attack_name(reader, entry["name"]);
      std::vector<GridAxis> axes;
      collect_axes(reader, entry, "", {}, axes);
      for (const auto& point : expand(axes)) {
        Procedure procedure;
        procedure.kind = "attack";
        AttackConfig config;
        for (const GridValue& item : point)
          if (item.key == "name") config = attack_defaults(item.value.Scalar());
        apply(reader, config, point);
        validate(reader, config, entry, point);
        procedure.attacks.push_back(config);
        add(procedure, entry);
      }
    }
  }
  if (node["ensembles"]) {
    const YAML::Node list = node["ensembles"];
    if (!list.IsSequence()) reader.fail(list, "ensembles must be a list of maps with members");
    for (const YAML::Node& entry : list) {
      if (!entry.IsMap() || !entry["members"] || !entry["members"].IsSequence())
        reader.fail(entry, "an ensemble needs members: a list of attack names");
      check_attack_name(reader, entry["members"]);
      std::vector<GridAxis> axes;
      collect_axes(reader, entry, "", {"members"}, axes);
      for (const auto& point : expand(axes)) {
        Procedure procedure;
        procedure.kind = "ensemble";
        for (const YAML::Node& member : entry["members"]) {
          AttackConfig config = attack_defaults(member.Scalar());
          apply(reader, config, point);  // shared settings (epsilon, norm, steps, …)
          validate(reader, config, member, point);
          procedure.attacks.push_back(config);
        }
        add(procedure, entry);
      }
    }
  }
  if (node["landscape"]) {
    for (const YAML::Node& entry : as_list(node["landscape"])) {
      if (!entry.IsMap()) reader.fail(entry, "landscape must be a map of settings or a list");
      std::vector<GridAxis> axes;
      collect_axes(reader, entry, "", {"samples"}, axes);
      for (const auto& point : expand(axes)) {
        Procedure procedure;
        procedure.kind = "landscape";
        if (entry["samples"])
          procedure.sample_limit = reader.integer(entry["samples"], "landscape samples", 1);
        apply(reader, procedure.landscape, point);
        validate(reader, procedure.landscape, entry, point);
        add(procedure, entry);
      }
    }
  }
  if (node["noop"]) {
    // Tasks that only return their sample ids: the coordinator's overhead, measured.
    reader.check_keys(node["noop"], "noop", {"enabled"});
    Procedure procedure;
    procedure.kind = "noop";
    add(procedure, node["noop"]);
  }
  if (spec.procedures.empty()) reader.fail(node, "procedures names none");
}

void parse_models(const SpecReader& reader, const YAML::Node& node, ExperimentSpec& spec) {
  if (!node.IsSequence() || node.size() == 0)
    reader.fail(node, "models must be a non-empty list of maps");
  std::set<std::string> names;
  for (const YAML::Node& entry : node) {
    reader.check_keys(entry, "model",
                      {"name", "checkpoint", "torchscript", "dataset", "train", "reparameterize"});
    ModelSpec model;
    model.location = reader.where(entry);
    if (!entry["name"]) reader.fail(entry, "a model needs a name");
    model.name = reader.scalar(entry["name"], "model name");
    if (model.name.empty() || model.name.find_first_of("/|=,") != std::string::npos)
      reader.fail(entry["name"], "a model name must be non-empty without / | = ,");
    if (!names.insert(model.name).second)
      reader.fail(entry["name"], "duplicate model name \"" + model.name + "\"");
    if (!!entry["checkpoint"] == !!entry["torchscript"])
      reader.fail(entry, "model " + model.name + " needs exactly one of checkpoint, torchscript");
    model.source.kind = entry["checkpoint"] ? "checkpoint" : "torchscript";
    model.source.path = reader.scalar(entry[model.source.kind], model.source.kind);
    if (entry["dataset"]) {
      model.dataset = reader.scalar(entry["dataset"], "dataset");
      try {
        dataset_info(model.dataset);
      } catch (const Error& error) {
        reader.fail(entry["dataset"], error.what());
      }
    } else if (model.source.kind == "checkpoint" && std::filesystem::exists(model.source.path)) {
      try {
        model.dataset = read_checkpoint_metadata(model.source.path).dataset;
      } catch (const Error& error) {
        reader.fail(entry["checkpoint"], error.what());
      }
    } else {
      reader.fail(entry, "model " + model.name +
                             ": dataset is required (mnist | cifar10) unless the checkpoint "
                             "exists and names it");
    }
    if (entry["train"]) {
      const YAML::Node train = entry["train"];
      if (!train.IsMap()) reader.fail(train, "train must be a map of training settings");
      for (const auto& item : train)
        model.training[reader.scalar(item.first, "train key")] =
            reader.scalar(item.second, "train setting");
      try {
        TrainingJob::from_settings(model.training, model.dataset);
      } catch (const Error& error) {
        // Point at the offending key's value when the error names it.
        for (const auto& item : train)
          if (error.where() == item.first.Scalar() ||
              (error.where() == "architecture" && item.first.Scalar() == "arch"))
            reader.fail(item.second, error.what());
        reader.fail(train, error.what());
      }
    }
    if (entry["reparameterize"]) {
      const YAML::Node change = entry["reparameterize"];
      reader.check_keys(change, "reparameterize", {"last_layer_scale", "relu_rescale"});
      for (const auto& item : change) {
        try {
          model.reparameterization.set(item.first.Scalar(), reader.scalar(item.second, "value"));
        } catch (const Error& error) {
          reader.fail(item.second, error.what());
        }
      }
      if (model.source.kind != "checkpoint")
        reader.fail(change, "reparameterize needs a built-in model (checkpoint:)");
    }
    spec.models.push_back(model);
  }
}

uint64_t fnv1a(const std::string& text, uint64_t hash = 14695981039346656037ULL) {
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ULL;
  return hash;
}

}  // namespace

std::string text_hash(const std::string& text) {
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(fnv1a(text)));
  return hex;
}

uint64_t derive_seed(uint64_t seed, const std::string& text) {
  // splitmix64 of the mixed hash: nearby seeds give unrelated streams. Kept below 2^63 so it fits
  // the int64 attributes and settings it is written to.
  uint64_t z = fnv1a(text) ^ (seed * 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) >> 1;
}

std::map<std::string, std::string> Procedure::entries() const {
  std::map<std::string, std::string> all;
  if (kind == "metric") {
    all = metric.to_entries();
  } else if (kind == "attack") {
    all = attacks.front().to_entries();
  } else if (kind == "ensemble") {
    for (size_t m = 0; m < attacks.size(); ++m)
      for (const auto& [key, value] : attacks[m].to_entries())
        all[std::to_string(m + 1) + "." + key] = value;
  } else if (kind == "landscape") {
    all = landscape.to_entries();
    all["samples"] = std::to_string(sample_limit);
  }
  return all;
}

std::string Procedure::key() const {
  std::string text;
  for (const auto& [key, value] : entries()) {
    const bool is_seed =
        key == "seed" || (key.size() > 5 && key.compare(key.size() - 5, 5, ".seed") == 0);
    if (is_seed && value == "0") continue;  // the default: the derived task seed takes its place
    text += (text.empty() ? "" : ",") + key + "=" + value;
  }
  return kind + "(" + text + ")";
}

ExperimentSpec parse_spec(const std::string& text, const std::string& path) {
  SpecReader reader(path);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& error) {
    throw Error(path + ":" + std::to_string(error.mark.line + 1) + ":" +
                    std::to_string(error.mark.column + 1),
                "malformed YAML: " + error.msg);
  }
  if (!root.IsMap()) throw Error(path, "a spec is a YAML map (name:, models:, procedures:, …)");
  reader.check_keys(
      root, "the spec",
      {"name", "seed", "device", "threads", "output", "data", "samples", "models", "procedures"});
  ExperimentSpec spec;
  spec.path = path;
  spec.text = text;
  for (const char* required : {"name", "output", "samples", "models", "procedures"})
    if (!root[required]) reader.fail(root, std::string("the spec needs \"") + required + "\"");
  spec.name = reader.scalar(root["name"], "name");
  spec.output = reader.scalar(root["output"], "output");
  if (spec.output.empty()) reader.fail(root["output"], "output must name an HDF5 file");
  if (root["seed"]) spec.seed = static_cast<uint64_t>(reader.integer(root["seed"], "seed", 0));
  if (root["threads"])
    spec.threads = static_cast<int>(reader.integer(root["threads"], "threads", 0));
  if (root["device"]) {
    spec.device = reader.scalar(root["device"], "device");
    const bool valid = spec.device == "auto" || spec.device == "cpu" || spec.device == "cuda" ||
                       (spec.device.rfind("cuda:", 0) == 0 && spec.device.size() > 5 &&
                        spec.device.find_first_not_of("0123456789", 5) == std::string::npos);
    if (!valid)
      reader.fail(root["device"], "device \"" + spec.device +
                                      "\" (allowed: auto, cpu, cuda, "
                                      "cuda:<index>)");
  }
  if (root["data"]) {
    const YAML::Node data = root["data"];
    reader.check_keys(data, "data", {"dir", "split"});
    if (data["dir"]) spec.data_dir = reader.scalar(data["dir"], "data dir");
    if (data["split"]) {
      spec.samples.split = reader.scalar(data["split"], "split");
      if (spec.samples.split != "train" && spec.samples.split != "test")
        reader.fail(data["split"], "split \"" + spec.samples.split + "\" (allowed: train, test)");
    }
  }
  const YAML::Node samples = root["samples"];
  reader.check_keys(samples, "samples", {"offset", "count", "shard_size", "batch_size"});
  if (!samples["count"]) reader.fail(samples, "samples needs count (how many samples to use)");
  spec.samples.count = reader.integer(samples["count"], "samples count", 1);
  if (samples["offset"]) spec.samples.offset = reader.integer(samples["offset"], "offset", 0);
  if (samples["shard_size"])
    spec.samples.shard_size = reader.integer(samples["shard_size"], "shard_size", 1);
  if (samples["batch_size"])
    spec.samples.batch_size = reader.integer(samples["batch_size"], "batch_size", 1);
  parse_models(reader, root["models"], spec);
  parse_procedures(reader, root["procedures"], spec);
  return spec;
}

ExperimentSpec load_spec(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot open the spec");
  std::stringstream text;
  text << in.rdbuf();
  return parse_spec(text.str(), path);
}

void check_spec_files(const ExperimentSpec& spec) {
  const bool needs_models =
      std::any_of(spec.procedures.begin(), spec.procedures.end(),
                  [](const Procedure& procedure) { return procedure.kind != "noop"; });
  if (!needs_models) return;
  for (const ModelSpec& model : spec.models) {
    if (!std::filesystem::exists(model.source.path)) {
      throw Error(model.location,
                  "model " + model.name + ": " + model.source.kind + " file " + model.source.path +
                      " does not exist" +
                      (model.training.empty()
                           ? std::string(" (and it has no train: settings)")
                           : " (train it first: robustscope prepare " + spec.path + ")"));
    }
  }
}

std::vector<Task> plan_tasks(const ExperimentSpec& spec) {
  std::vector<Task> tasks;
  for (size_t m = 0; m < spec.models.size(); ++m) {
    for (size_t p = 0; p < spec.procedures.size(); ++p) {
      const Procedure& procedure = spec.procedures[p];
      int64_t count = spec.samples.count;
      if (procedure.kind == "landscape" && procedure.sample_limit > 0)
        count = std::min(count, procedure.sample_limit);
      Task task;
      task.model = m;
      task.procedure = p;
      task.setting_key = "model=" + spec.models[m].name + "|" + procedure.key();
      task.seed = derive_seed(spec.seed, task.setting_key);
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

TaskCost estimate_cost(const ExperimentSpec& spec, const Task& task) {
  const Procedure& procedure = spec.procedures[task.procedure];
  const double n = static_cast<double>(task.sample_count);
  auto attack_cost = [](const AttackConfig& attack) {
    TaskCost cost{2, 0};  // the clean prediction and the final evaluation
    if (attack.name == "fgsm") {
      cost.forward_backward = 1;
    } else if (attack.name == "cw-l2") {
      cost.forward_backward = static_cast<double>(attack.binary_search_steps * attack.steps);
    } else if (attack.name == "apgd-t") {
      cost.forward_backward = static_cast<double>(attack.target_classes * attack.steps);
    } else {
      cost.forward_backward = static_cast<double>(attack.restarts * attack.steps);
    }
    return cost;
  };
  TaskCost cost;
  if (procedure.kind == "metric") {
    const MetricConfig& metric = procedure.metric;
    cost = {1.0 + metric.restarts, static_cast<double>(metric.restarts * metric.steps)};
  } else if (procedure.kind == "attack") {
    cost = attack_cost(procedure.attacks.front());
  } else if (procedure.kind == "ensemble") {
    // An upper bound: every member on every sample (members skip the points already broken).
    for (const AttackConfig& attack : procedure.attacks) {
      const TaskCost member = attack_cost(attack);
      cost.forward += member.forward;
      cost.forward_backward += member.forward_backward;
    }
  } else if (procedure.kind == "landscape") {
    const LandscapeConfig& landscape = procedure.landscape;
    cost.forward = 1.0 + 2.0 * landscape.resolution_1d +
                   static_cast<double>(landscape.resolution_2d * landscape.resolution_2d);
    const std::string& direction = landscape.adversarial_direction;
    cost.forward_backward = direction == "pgd"      ? landscape.pgd.steps
                            : direction == "metric" ? landscape.metric.steps
                                                    : 1.0;
  }
  return {cost.forward * n, cost.forward_backward * n};
}

}  // namespace robustscope
