// YAML experiment specs: strict parsing (every error names file:line:column) and grid expansion.
#include "engine/spec/experiment_spec.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "core/data/dataset.hpp"
#include "core/error.hpp"
#include "core/runtime/files.hpp"
#include "core/settings.hpp"
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
    const YAML::Mark mark = node.Mark();
    if (mark.is_null()) throw Error(path_, what);
    throw Error(Location{path_, mark.line + 1, mark.column + 1, "", Location::Subject::kValue},
                what);
  }
  // An error of a setting (its key and message) placed at `node`.
  [[noreturn]] void fail(const YAML::Node& node, const Error& error) const {
    const YAML::Mark mark = node.Mark();
    if (mark.is_null()) throw Error(path_, error.what());
    throw error.at(path_, mark.line + 1, mark.column + 1);
  }

  // The keys of a map, refusing duplicates and keys outside `allowed`.
  void check_keys(const YAML::Node& map, const std::string& what,
                  const std::vector<std::string>& allowed) const {
    if (!map.IsMap()) fail(map, what + " must be a map (key: value)");
    std::set<std::string> seen;
    for (const auto& item : map) {
      const std::string key = scalar(item.first, what + " key");
      if (!seen.insert(key).second) fail(item.first, "duplicate key \"" + key + "\" in " + what);
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
        fail(item.first,
             "unknown key \"" + key + "\" in " + what + " (allowed: " + join(allowed) + ")");
    }
  }
  std::string scalar(const YAML::Node& node, const std::string& what) const {
    if (node.IsNull()) fail(node, what + " has no value");
    if (!node.IsScalar()) fail(node, what + " must be a single value, not a list or a map");
    return node.Scalar();
  }
  int64_t integer(const YAML::Node& node, const std::string& what, int64_t minimum,
                  int64_t maximum = std::numeric_limits<int64_t>::max()) const {
    const std::string text = scalar(node, what);
    int64_t value = 0;
    try {
      value = parse_integer(what, text);
    } catch (const Error& error) {
      fail(node, error.what());
    }
    if (value < minimum || value > maximum)
      fail(node, what + " = " + text + " is out of range (" +
                     (maximum == std::numeric_limits<int64_t>::max()
                          ? "at least " + std::to_string(minimum)
                          : std::to_string(minimum) + ".." + std::to_string(maximum)) +
                     ")");
    return value;
  }
  uint64_t seed(const YAML::Node& node, const std::string& what) const {
    const std::string text = scalar(node, what);  // placed already: outside the try
    try {
      return parse_seed(what, text);
    } catch (const Error& error) {
      fail(node, error.what());
    }
  }
  const std::string& path() const { return path_; }

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
  std::set<std::string> seen;
  for (const auto& item : map) {
    const std::string name = reader.scalar(item.first, "setting name");
    if (!seen.insert(name).second) reader.fail(item.first, "duplicate key \"" + name + "\"");
    const std::string key = prefix + name;
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

// How many settings the axes expand into, counted before anything is built.
int64_t grid_size(const std::vector<GridAxis>& axes) {
  int64_t size = 1;
  for (const GridAxis& axis : axes) {
    const int64_t values = static_cast<int64_t>(axis.values.size());
    size = size > std::numeric_limits<int64_t>::max() / values ? std::numeric_limits<int64_t>::max()
                                                               : size * values;
  }
  return size;
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

// Sets one grid value through `set(key, text)`: an unknown key is reported at the key, a bad value
// at the value.
template <typename Set>
void apply(const SpecReader& reader, const GridValue& item, Set&& set) {
  try {
    set(item.key, item.value.Scalar());
  } catch (const Error& error) {
    const bool about_key = error.location().subject == Location::Subject::kKeyName;
    reader.fail(about_key ? item.key_node : item.value, error);
  }
}

// Runs `check` on a whole setting; an error about a key of the point is placed at its value.
template <typename Check>
void check_setting(const SpecReader& reader, const YAML::Node& entry, const GridPoint& point,
                   Check&& check) {
  try {
    check();
  } catch (const Error& error) {
    for (const GridValue& item : point)
      if (item.key == error.location().key) reader.fail(item.value, error);
    reader.fail(entry, error);
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

std::string attack_name(const SpecReader& reader, const YAML::Node& node) {
  const std::string name = reader.scalar(node, "attack name");
  try {
    find_attack(name);
  } catch (const Error& error) {
    reader.fail(node, "unknown attack \"" + name + "\" (known: " + join(known_attacks()) + ")");
  }
  return name;
}

// Parses the procedures, counting each entry's grid before expanding it.
class ProcedureParser {
 public:
  ProcedureParser(const SpecReader& reader, ExperimentSpec& spec) : reader_(reader), spec_(spec) {}

  void parse(const YAML::Node& node) {
    reader_.check_keys(
        node, "procedures",
        {"metric", "certify", "attacks", "ensembles", "transfers", "landscape", "noop"});
    if (node["metric"]) {
      for (const YAML::Node& entry : as_list(node["metric"])) metric(entry);
    }
    if (node["certify"]) {
      for (const YAML::Node& entry : as_list(node["certify"])) certify(entry);
    }
    if (node["attacks"]) {
      if (!node["attacks"].IsSequence())
        reader_.fail(node["attacks"], "attacks must be a list of maps, each with a name");
      for (const YAML::Node& entry : node["attacks"]) attack(entry);
    }
    if (node["ensembles"]) {
      if (!node["ensembles"].IsSequence())
        reader_.fail(node["ensembles"], "ensembles must be a list of maps with members");
      for (const YAML::Node& entry : node["ensembles"]) ensemble(entry);
    }
    if (node["transfers"]) {
      if (!node["transfers"].IsSequence())
        reader_.fail(node["transfers"],
                     "transfers must be a list of maps, each with a substitute and a name");
      for (const YAML::Node& entry : node["transfers"]) transfer(entry);
    }
    if (node["landscape"]) {
      for (const YAML::Node& entry : as_list(node["landscape"])) landscape(entry);
    }
    if (node["noop"]) {
      reader_.check_keys(node["noop"], "noop", {"enabled"});
      add(Procedure{NoopProcedure{}, std::nullopt, reader_.where(node["noop"])}, {});
    }
    if (spec_.procedures.empty()) reader_.fail(node, "procedures names none");
  }

 private:
  // The axes of an entry, refusing a grid that would exceed the task limit before building it.
  std::vector<GridAxis> axes_of(const YAML::Node& entry, const std::set<std::string>& reserved) {
    std::vector<GridAxis> axes;
    collect_axes(reader_, entry, "", reserved, axes);
    const int64_t size = grid_size(axes);
    settings_ = size > spec_.max_tasks - settings_ ? spec_.max_tasks + 1 : settings_ + size;
    if (settings_ > spec_.max_tasks)
      reader_.fail(entry, "the procedures expand to more than " + std::to_string(spec_.max_tasks) +
                              " settings (limits: {max_tasks: N} raises the limit)");
    return axes;
  }

  // The explicit seed of a grid point, when it has one.
  std::optional<uint64_t> seed_of(const GridPoint& point) {
    for (const GridValue& item : point)
      if (item.key == "seed") return reader_.seed(item.value, "seed");
    return std::nullopt;
  }

  void add(Procedure procedure, const GridPoint& point) {
    std::map<std::string, std::string> locations;
    for (const GridValue& item : point) locations[item.key] = reader_.where(item.value);
    spec_.procedures.push_back(std::move(procedure));
    spec_.setting_locations.push_back(std::move(locations));
  }

  void metric(const YAML::Node& entry) {
    if (!entry.IsMap()) reader_.fail(entry, "metric must be a map of settings or a list of maps");
    for (const GridPoint& point : expand(axes_of(entry, {}))) {
      MetricProcedure procedure;
      for (const GridValue& item : point)
        apply(reader_, item, [&](const std::string& key, const std::string& text) {
          procedure.config.set(key, text);
        });
      check_setting(reader_, entry, point, [&] { procedure.config.validate(); });
      add(Procedure{procedure, seed_of(point), reader_.where(entry)}, point);
    }
  }

  void certify(const YAML::Node& entry) {
    if (!entry.IsMap()) reader_.fail(entry, "certify must be a map of settings or a list of maps");
    for (const GridPoint& point : expand(axes_of(entry, {}))) {
      CertifyProcedure procedure;
      for (const GridValue& item : point)
        apply(reader_, item, [&](const std::string& key, const std::string& text) {
          procedure.config.set(key, text);
        });
      check_setting(reader_, entry, point, [&] { procedure.config.validate(); });
      add(Procedure{procedure, std::nullopt, reader_.where(entry)}, point);
    }
  }

  void attack(const YAML::Node& entry) {
    if (!entry.IsMap() || !entry["name"])
      reader_.fail(entry, "each attack needs a name (e.g. {name: pgd, epsilon: 0.3})");
    for (const YAML::Node& name : as_list(entry["name"])) attack_name(reader_, name);
    for (const GridPoint& point : expand(axes_of(entry, {}))) {
      AttackProcedure procedure;
      for (const GridValue& item : point)
        if (item.key == "name") procedure.config = make_attack_config(item.value.Scalar());
      for (const GridValue& item : point) {
        if (item.key == "name") continue;
        apply(reader_, item, [&](const std::string& key, const std::string& text) {
          set_attack_setting(procedure.config, key, text);
        });
      }
      check_setting(reader_, entry, point, [&] { validate_attack(procedure.config); });
      add(Procedure{procedure, seed_of(point), reader_.where(entry)}, point);
    }
  }

  // Shared settings apply to every member that reads them; a key no member reads is an error.
  // A preset (ensemble_preset) names its members and their budgets instead.
  void ensemble(const YAML::Node& entry) {
    const bool preset = entry.IsMap() && entry["preset"];
    if (preset && entry["members"])
      reader_.fail(entry["preset"], "an ensemble has either members or a preset, not both");
    if (!preset && (!entry.IsMap() || !entry["members"] || !entry["members"].IsSequence()))
      reader_.fail(entry, "an ensemble needs members (a list of attack names) or a preset (" +
                              join(ensemble_presets()) + ")");
    std::vector<AttackConfig> members;
    if (preset) {
      try {
        members = ensemble_preset(entry["preset"].Scalar());
      } catch (const Error& error) {
        reader_.fail(entry["preset"], error);
      }
    } else {
      for (const YAML::Node& member : entry["members"])
        members.push_back(make_attack_config(attack_name(reader_, member)));
    }
    std::vector<std::string> names;
    for (const AttackConfig& member : members) names.push_back(member.name);
    for (const GridPoint& point : expand(axes_of(entry, {"members", "preset"}))) {
      EnsembleProcedure procedure;
      procedure.members = members;
      for (const GridValue& item : point) {
        bool used = false;
        for (AttackConfig& member : procedure.members) {
          if (!attack_reads(member.name, item.key)) continue;
          used = true;
          apply(reader_, item, [&](const std::string& key, const std::string& text) {
            set_attack_setting(member, key, text);
          });
        }
        if (!used) {
          if (!attack_settings().find(item.key))
            reader_.fail(item.key_node, Error::unknown_key("attack setting", item.key,
                                                           join(attack_settings().keys())));
          reader_.fail(item.key_node,
                       "no member of the ensemble (" + join(names) + ") uses \"" + item.key + "\"");
        }
      }
      size_t index = 0;
      for (const AttackConfig& member : procedure.members) {
        const YAML::Node member_node = preset ? entry["preset"] : entry["members"][index++];
        check_setting(reader_, member_node, point, [&] { validate_attack(member); });
      }
      add(Procedure{procedure, seed_of(point), reader_.where(entry)}, point);
    }
  }

  void transfer(const YAML::Node& entry) {
    if (!entry.IsMap() || !entry["name"] || !entry["substitute"])
      reader_.fail(entry,
                   "a transfer needs a substitute (a model of the spec) and a name (the attack "
                   "crafted on it), e.g. {substitute: natural, name: pgd, epsilon: 0.3}");
    for (const YAML::Node& name : as_list(entry["name"])) attack_name(reader_, name);
    for (const GridPoint& point : expand(axes_of(entry, {}))) {
      TransferProcedure procedure;
      for (const GridValue& item : point) {
        if (item.key == "name") procedure.crafting = make_attack_config(item.value.Scalar());
        if (item.key == "substitute") {
          procedure.substitute = item.value.Scalar();
          const bool known = std::any_of(
              spec_.models.begin(), spec_.models.end(),
              [&](const ModelSpec& model) { return model.name == procedure.substitute; });
          if (!known) {
            std::vector<std::string> models;
            for (const ModelSpec& model : spec_.models) models.push_back(model.name);
            reader_.fail(item.value, "substitute \"" + procedure.substitute +
                                         "\" is not a model of the spec (models: " + join(models) +
                                         ")");
          }
        }
      }
      for (const GridValue& item : point) {
        if (item.key == "name" || item.key == "substitute") continue;
        apply(reader_, item, [&](const std::string& key, const std::string& text) {
          set_attack_setting(procedure.crafting, key, text);
        });
      }
      check_setting(reader_, entry, point, [&] { validate_attack(procedure.crafting); });
      add(Procedure{procedure, seed_of(point), reader_.where(entry)}, point);
    }
  }

  void landscape(const YAML::Node& entry) {
    if (!entry.IsMap()) reader_.fail(entry, "landscape must be a map of settings or a list");
    int64_t sample_limit = 0;
    if (entry["samples"])
      sample_limit = reader_.integer(entry["samples"], "landscape samples", 1, 1000000);
    for (const GridPoint& point : expand(axes_of(entry, {"samples"}))) {
      LandscapeProcedure procedure;
      procedure.sample_limit = sample_limit;
      for (const GridValue& item : point)
        apply(reader_, item, [&](const std::string& key, const std::string& text) {
          procedure.config.set(key, text);
        });
      check_setting(reader_, entry, point, [&] { procedure.config.validate(); });
      add(Procedure{procedure, seed_of(point), reader_.where(entry)}, point);
    }
  }

  const SpecReader& reader_;
  ExperimentSpec& spec_;
  int64_t settings_ = 0;
};

const std::vector<std::string> kTrainLocationKeys = {"arch"};

// A model's name: an HDF5 link name in every results file (no "/", not "." or ".."), a part of
// task keys (no | = , @) and printed in messages (no spaces or control characters: a NUL would
// cut it short); unique in the spec.
std::string parse_model_name(const SpecReader& reader, const YAML::Node& entry,
                             std::set<std::string>& names) {
  if (!entry["name"]) reader.fail(entry, "a model needs a name");
  const std::string name = reader.scalar(entry["name"], "model name");
  const bool control = std::any_of(name.begin(), name.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  if (name.empty() || name == "." || name == ".." || control ||
      name.find_first_of("/|=,@ ") != std::string::npos)
    reader.fail(entry["name"],
                "a model name must be non-empty, not \".\" or \"..\", without / | = , @, spaces "
                "or control characters");
  if (!names.insert(name).second)
    reader.fail(entry["name"], "duplicate model name \"" + name + "\"");
  return name;
}

// `train:`: the settings of the recipe that makes a missing checkpoint, checked as a training job.
void parse_training(const SpecReader& reader, const YAML::Node& entry, ModelSpec& model,
                    const ExperimentSpec& spec) {
  const YAML::Node train = entry["train"];
  if (!train.IsMap()) reader.fail(train, "train must be a map of training settings");
  if (model.source.kind != "checkpoint")
    reader.fail(train, "train: makes a checkpoint; it cannot go with torchscript:");
  if (model.dataset.empty())
    reader.fail(entry, "model " + model.name + ": train: needs the model's dataset");
  std::set<std::string> seen;
  for (const auto& item : train) {
    const std::string key = reader.scalar(item.first, "train key");
    if (!seen.insert(key).second) reader.fail(item.first, "duplicate key \"" + key + "\"");
    model.training[key] = reader.scalar(item.second, "train setting");
  }
  try {
    TrainingJob::from_settings(model.training, model.dataset);
  } catch (const Error& error) {
    // Place the error at the key it is about.
    for (const auto& item : train) {
      const std::string key = item.first.Scalar();
      if (key == error.location().key)
        reader.fail(
            error.location().subject == Location::Subject::kKeyName ? item.first : item.second,
            error);
    }
    reader.fail(train, error);
  }
  // Two entries that train one checkpoint file must train it the same way, however each spells
  // its path ("m.pt", "./m.pt", an absolute path, a symbolic or, where the file exists, a hard
  // link to it).
  const std::string file = resolved_path(model.source.path);
  const auto same_file = [&file](const std::string& path) {
    std::error_code error;
    return resolved_path(path) == file || std::filesystem::equivalent(path, file, error);
  };
  const ModelSpec* other = nullptr;
  for (const ModelSpec& candidate : spec.models)
    if (!candidate.training.empty() && same_file(candidate.source.path)) other = &candidate;
  if (other && (other->training != model.training || other->dataset != model.dataset))
    reader.fail(train, "model " + model.name + " trains " + model.source.path +
                           " with other settings than model " + other->name + " (" +
                           other->location + ", " + other->source.path +
                           (other->source.path == model.source.path ? "" : ", the same file") +
                           "): one file cannot hold both");
}

void parse_reparameterization(const SpecReader& reader, const YAML::Node& entry, ModelSpec& model) {
  const YAML::Node change = entry["reparameterize"];
  reader.check_keys(change, "reparameterize", {"last_layer_scale", "relu_rescale"});
  for (const auto& item : change) {
    try {
      model.reparameterization.set(item.first.Scalar(), reader.scalar(item.second, "value"));
    } catch (const Error& error) {
      reader.fail(item.second, error);
    }
  }
  if (model.source.kind != "checkpoint")
    reader.fail(change, "reparameterize needs a built-in model (checkpoint:)");
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
    model.name = parse_model_name(reader, entry, names);
    if (!!entry["checkpoint"] == !!entry["torchscript"])
      reader.fail(entry, "model " + model.name + " needs exactly one of checkpoint, torchscript");
    model.source.kind = entry["checkpoint"] ? "checkpoint" : "torchscript";
    model.source.path = reader.scalar(entry[model.source.kind], model.source.kind);
    if (model.source.path.empty()) reader.fail(entry[model.source.kind], "the path is empty");
    if (entry["dataset"]) {
      model.dataset = reader.scalar(entry["dataset"], "dataset");
      try {
        dataset_info(model.dataset);
      } catch (const Error& error) {
        reader.fail(entry["dataset"], error.what());
      }
    } else if (model.source.kind == "torchscript") {
      reader.fail(entry, "model " + model.name + ": a TorchScript model needs its dataset");
    }
    if (entry["train"]) parse_training(reader, entry, model, spec);
    if (entry["reparameterize"]) parse_reparameterization(reader, entry, model);
    spec.models.push_back(model);
  }
}

// Where setting `index` is written, told apart from setting `other`: the first of its values
// written elsewhere than `other`'s, else its entry.
std::string place_of_setting(const ExperimentSpec& spec, size_t index, size_t other) {
  const auto& locations = spec.setting_locations[index];
  const auto& other_locations = spec.setting_locations[other];
  for (const auto& [key, location] : locations) {
    const auto found = other_locations.find(key);
    if (found == other_locations.end() || found->second != location) return location;
  }
  return spec.procedures[index].location;
}

// One setting written twice ("epsilon: [0.1, 1e-1]", an attack repeated with its keys reordered)
// would be planned as one task set and its results written twice: refused with both places.
void refuse_repeated_settings(const ExperimentSpec& spec) {
  std::map<std::string, size_t> first_of;
  for (size_t p = 0; p < spec.procedures.size(); ++p) {
    const auto [found, inserted] = first_of.emplace(spec.procedures[p].key(), p);
    if (inserted) continue;
    throw Error(place_of_setting(spec, p, found->second),
                "the setting " + found->first + " is written twice (also at " +
                    place_of_setting(spec, found->second, p) +
                    "): each setting may appear once, its results are kept once");
  }
}

// `samples:`: which samples, in shards of how many, in batches of how many (or auto, in a budget).
void parse_samples(const SpecReader& reader, const YAML::Node& samples,
                   SampleSelection& selection) {
  reader.check_keys(samples, "samples",
                    {"offset", "count", "shard_size", "batch_size", "batch_memory_mib"});
  if (!samples["count"]) reader.fail(samples, "samples needs count (how many samples to use)");
  constexpr int64_t kMostSamples = int64_t{1} << 31;
  selection.count = reader.integer(samples["count"], "samples count", 1, kMostSamples);
  if (samples["offset"])
    selection.offset = reader.integer(samples["offset"], "offset", 0, kMostSamples);
  const YAML::Node batch_size = samples["batch_size"];
  if (batch_size && batch_size.IsScalar() && batch_size.Scalar() == "auto") {
    selection.batch_auto = true;
  } else if (batch_size) {
    const std::string written = reader.scalar(batch_size, "batch_size");
    if (written.find_first_not_of("+-0123456789") != std::string::npos)
      reader.fail(batch_size, "batch_size = " + written + " is neither a number nor auto");
    selection.batch_size = reader.integer(batch_size, "batch_size", 1, 1 << 24);
  }
  if (samples["batch_memory_mib"]) {
    if (!selection.batch_auto)
      reader.fail(samples["batch_memory_mib"],
                  "batch_memory_mib is the budget of batch_size: auto");
    selection.batch_memory_mib =
        reader.integer(samples["batch_memory_mib"], "batch_memory_mib", 1, int64_t{1} << 30);
  }
  if (samples["shard_size"])
    selection.shard_size = reader.integer(samples["shard_size"], "shard_size", 1, kMostSamples);
  if (!selection.batch_auto && selection.shard_size % selection.batch_size != 0) {
    reader.fail(samples["shard_size"] ? samples["shard_size"] : samples,
                "shard_size (" + std::to_string(selection.shard_size) +
                    ") must be a multiple of batch_size (" + std::to_string(selection.batch_size) +
                    "): batches then begin at the same samples however the selection is "
                    "sharded, which keeps every number independent of the sharding");
  }
}

// seed, threads, device, data and limits: how and on what the spec runs.
void parse_run_settings(const SpecReader& reader, const YAML::Node& root, ExperimentSpec& spec) {
  if (root["seed"]) spec.seed = reader.seed(root["seed"], "seed");
  if (root["threads"])
    spec.threads = static_cast<int>(reader.integer(root["threads"], "threads", 0, 1 << 20));
  if (root["device"]) {
    spec.device = reader.scalar(root["device"], "device");
    const bool valid =
        spec.device == "auto" || spec.device == "cpu" || spec.device == "cuda" ||
        (spec.device.rfind("cuda:", 0) == 0 && spec.device.size() > 5 && spec.device.size() < 9 &&
         spec.device.find_first_not_of("0123456789", 5) == std::string::npos);
    if (!valid)
      reader.fail(root["device"],
                  "device \"" + spec.device + "\" (allowed: auto, cpu, cuda, cuda:<index>)");
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
  if (root["limits"]) {
    reader.check_keys(root["limits"], "limits", {"max_tasks"});
    if (root["limits"]["max_tasks"])
      spec.max_tasks =
          reader.integer(root["limits"]["max_tasks"], "max_tasks", 1, kMostPlannedTasks);
  }
}

}  // namespace

const ModelSpec& ExperimentSpec::model(const std::string& name) const {
  std::vector<std::string> names;
  for (const ModelSpec& model : models) {
    if (model.name == name) return model;
    names.push_back(model.name);
  }
  throw Error::unknown_key("model", name, join(names));
}

ExperimentSpec parse_spec(const std::string& text, const std::string& path) {
  SpecReader reader(path);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& error) {
    throw Error(
        Location{path, error.mark.line + 1, error.mark.column + 1, "", Location::Subject::kValue},
        "malformed YAML: " + error.msg);
  }
  if (!root.IsMap()) throw Error(path, "a spec is a YAML map (name:, models:, procedures:, …)");
  reader.check_keys(root, "the spec",
                    {"name", "seed", "device", "threads", "output", "data", "samples", "limits",
                     "models", "procedures"});
  ExperimentSpec spec;
  spec.path = path;
  spec.text = text;
  spec.data_dir = default_data_dir();
  for (const char* required : {"name", "output", "samples", "models", "procedures"})
    if (!root[required]) reader.fail(root, std::string("the spec needs \"") + required + "\"");
  spec.name = reader.scalar(root["name"], "name");
  spec.output = reader.scalar(root["output"], "output");
  if (spec.output.empty()) reader.fail(root["output"], "output must name an HDF5 file");
  parse_run_settings(reader, root, spec);
  parse_samples(reader, root["samples"], spec.samples);
  parse_models(reader, root["models"], spec);
  if (!spec.samples.batch_auto)
    for (ModelSpec& model : spec.models) model.batch_size = spec.samples.batch_size;
  ProcedureParser(reader, spec).parse(root["procedures"]);
  refuse_repeated_settings(spec);
  return spec;
}

const ModelSpec* ExperimentSpec::base_of(const ModelSpec& copy) const {
  if (copy.reparameterization.is_identity()) return nullptr;
  for (const ModelSpec& candidate : models) {
    if (!candidate.reparameterization.is_identity()) continue;
    const bool same_file = !copy.content_hash.empty() && !candidate.content_hash.empty()
                               ? copy.content_hash == candidate.content_hash
                               : copy.source.path == candidate.source.path;
    if (same_file && candidate.source.kind == copy.source.kind) return &candidate;
  }
  return nullptr;
}

ExperimentSpec load_spec(const std::string& path) {
  return parse_spec(read_text_file(path, kMaxSpecBytes), path);
}

}  // namespace robustscope
