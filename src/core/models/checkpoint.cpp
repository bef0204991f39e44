// Checkpoint files: a LibTorch archive holding "metadata" (key=value lines), "state_names" (one
// name per line) and "state" (the tensors in that order).
#include "core/models/checkpoint.hpp"

#include <torch/nn.h>
#include <torch/serialize.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "core/error.hpp"
#include "core/runtime/files.hpp"
#include "core/settings.hpp"
#include "core/version.hpp"

namespace robustscope {
namespace {

constexpr const char* kFormat = "robustscope-checkpoint/1";

std::string join_doubles(const std::vector<double>& values) {
  std::string text;
  for (double value : values) text += (text.empty() ? "" : ",") + format_number(value);
  return text;
}

const std::string& entry(const std::map<std::string, std::string>& entries, const std::string& key,
                         const std::string& where) {
  const auto found = entries.find(key);
  if (found == entries.end()) throw Error(where, "checkpoint metadata lacks \"" + key + "\"");
  return found->second;
}

std::vector<double> parse_doubles(const std::string& text, const std::string& key) {
  std::vector<double> values;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) values.push_back(parse_number(key, item));
  return values;
}

std::string to_lines(const std::map<std::string, std::string>& entries) {
  std::string text;
  for (const auto& [key, value] : entries) {
    if (key.find_first_of("=\n") != std::string::npos || value.find('\n') != std::string::npos) {
      throw Error("checkpoint metadata", "entry \"" + key + "\" holds '=' or a newline");
    }
    text += key + "=" + value + "\n";
  }
  return text;
}

std::map<std::string, std::string> from_lines(const std::string& text) {
  std::map<std::string, std::string> entries;
  std::stringstream stream(text);
  std::string line;
  while (std::getline(stream, line)) {
    const size_t equals = line.find('=');
    if (equals != std::string::npos) entries[line.substr(0, equals)] = line.substr(equals + 1);
  }
  return entries;
}

// Parameters and buffers by their dotted names, in registration order.
std::vector<std::pair<std::string, torch::Tensor>> named_state(torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> state;
  for (const auto& item : module.named_parameters()) state.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers()) state.emplace_back(item.key(), item.value());
  return state;
}

// The archive held in `bytes` (a checkpoint file's contents); errors name `where`.
torch::serialize::InputArchive archive_from_bytes(const std::string& bytes,
                                                  const std::string& where) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(bytes.data(), bytes.size());
  } catch (const c10::Error& error) {
    throw Error(where,
                std::string("not a readable checkpoint (truncated or not a LibTorch archive): ") +
                    error.what_without_backtrace());
  }
  return archive;
}

std::string read_checkpoint_bytes(const std::string& path) {
  if (!std::filesystem::exists(path)) throw Error(path, "no such checkpoint file");
  if (!std::filesystem::is_regular_file(path)) throw Error(path, "is not a checkpoint file");
  return read_text_file(path, size_t{1} << 40);
}

torch::serialize::InputArchive open_archive(const std::string& path) {
  return archive_from_bytes(read_checkpoint_bytes(path), path);
}

std::string read_string(torch::serialize::InputArchive& archive, const std::string& key,
                        const std::string& path) {
  c10::IValue value;
  if (!archive.try_read(key, value) || !value.isString()) {
    throw Error(path, "not a robustscope checkpoint: no \"" + key + "\" record");
  }
  return value.toStringRef();
}

CheckpointMetadata read_metadata(torch::serialize::InputArchive& archive, const std::string& path) {
  const auto entries = from_lines(read_string(archive, "metadata", path));
  const auto format = entries.find("format");
  if (format == entries.end() || format->second != kFormat) {
    throw Error(path, "checkpoint format \"" +
                          (format == entries.end() ? std::string("none") : format->second) +
                          "\" is not " + kFormat);
  }
  return CheckpointMetadata::from_entries(entries, path);
}

}  // namespace

std::map<std::string, std::string> CheckpointMetadata::to_entries() const {
  std::map<std::string, std::string> entries = {
      {"format", kFormat},
      {"architecture", architecture.name},
      {"architecture.input_shape", architecture.input.to_string()},
      {"architecture.num_classes", std::to_string(architecture.num_classes)},
      {"architecture.mean", join_doubles(architecture.mean)},
      {"architecture.stddev", join_doubles(architecture.stddev)},
      {"dataset", dataset},
      {"seed", std::to_string(seed)},
      {"test_accuracy", format_number(test_accuracy)},
      {"code_version", code_version},
      {"libtorch_version", libtorch_version}};
  for (const auto& [key, value] : architecture.arguments) {
    entries["architecture.argument." + key] = std::to_string(value);
  }
  for (const auto& [key, value] : recipe) entries["recipe." + key] = value;
  return entries;
}

CheckpointMetadata CheckpointMetadata::from_entries(
    const std::map<std::string, std::string>& entries, const std::string& where) {
  CheckpointMetadata metadata;
  ArchitectureConfig& arch = metadata.architecture;
  arch.name = entry(entries, "architecture", where);
  const std::string shape = entry(entries, "architecture.input_shape", where);
  if (std::sscanf(shape.c_str(), "%ldx%ldx%ld", &arch.input.channels, &arch.input.height,
                  &arch.input.width) != 3) {
    throw Error(where, "checkpoint input shape \"" + shape + "\" is not CxHxW");
  }
  // Errors name the file and the metadata key.
  const auto context = [&where](const std::string& key) { return where + ": metadata " + key; };
  arch.num_classes = parse_integer(context("architecture.num_classes"),
                                   entry(entries, "architecture.num_classes", where));
  arch.mean =
      parse_doubles(entry(entries, "architecture.mean", where), context("architecture.mean"));
  arch.stddev =
      parse_doubles(entry(entries, "architecture.stddev", where), context("architecture.stddev"));
  const std::string argument_prefix = "architecture.argument.";
  const std::string recipe_prefix = "recipe.";
  for (const auto& [key, value] : entries) {
    if (key.rfind(argument_prefix, 0) == 0) {
      arch.arguments[key.substr(argument_prefix.size())] = parse_integer(context(key), value);
    } else if (key.rfind(recipe_prefix, 0) == 0) {
      metadata.recipe[key.substr(recipe_prefix.size())] = value;
    }
  }
  metadata.dataset = entry(entries, "dataset", where);
  metadata.seed =
      static_cast<uint64_t>(parse_integer(context("seed"), entry(entries, "seed", where)));
  metadata.test_accuracy =
      parse_number(context("test_accuracy"), entry(entries, "test_accuracy", where));
  metadata.code_version = entry(entries, "code_version", where);
  metadata.libtorch_version = entry(entries, "libtorch_version", where);
  return metadata;
}

void save_checkpoint(const std::string& path, BuiltinClassifier& model,
                     CheckpointMetadata metadata) {
  metadata.architecture = model.config();
  metadata.code_version = code_version();
  metadata.libtorch_version = libtorch_version();
  std::string names;
  c10::List<torch::Tensor> tensors;
  for (const auto& [name, tensor] : named_state(*model.network())) {
    names += name + "\n";
    tensors.push_back(tensor.detach().cpu());
  }
  torch::serialize::OutputArchive archive;
  archive.write("metadata", c10::IValue(to_lines(metadata.to_entries())));
  archive.write("state_names", c10::IValue(names));
  archive.write("state", c10::IValue(tensors));
  // Written whole or not at all: an interrupted save never leaves a half checkpoint.
  atomic_replace(path, [&archive, &path](const std::string& partial) {
    try {
      archive.save_to(partial);
    } catch (const c10::Error& error) {
      throw Error(path, std::string("cannot write checkpoint: ") + error.what_without_backtrace());
    }
  });
}

CheckpointMetadata read_checkpoint_metadata(const std::string& path) {
  auto archive = open_archive(path);
  return read_metadata(archive, path);
}

namespace {

// Copies the archive's weights into `model` (see load_checkpoint_into).
CheckpointMetadata load_archive_into(torch::serialize::InputArchive& archive,
                                     const std::string& path, BuiltinClassifier& model) {
  const CheckpointMetadata metadata = read_metadata(archive, path);
  const ArchitectureConfig& stored = metadata.architecture;
  const ArchitectureConfig& target = model.config();
  if (stored.name != target.name || stored.arguments != target.arguments ||
      !(stored.input == target.input) || stored.num_classes != target.num_classes) {
    throw Error(path, "checkpoint holds " + describe_architecture(stored) +
                          ", which cannot be loaded into " + model.description());
  }
  const std::string names_text = read_string(archive, "state_names", path);
  c10::IValue state_value;
  if (!archive.try_read("state", state_value) || !state_value.isTensorList()) {
    throw Error(path, "not a robustscope checkpoint: no \"state\" tensor list");
  }
  const auto tensors = state_value.toTensorVector();
  std::map<std::string, torch::Tensor> stored_state;
  std::stringstream stream(names_text);
  std::string name;
  size_t index = 0;
  while (std::getline(stream, name)) {
    if (index >= tensors.size()) throw Error(path, "checkpoint state names and tensors disagree");
    stored_state[name] = tensors[index++];
  }
  if (index != tensors.size()) throw Error(path, "checkpoint state names and tensors disagree");

  torch::NoGradGuard no_grad;
  auto target_state = named_state(*model.network());
  if (target_state.size() != stored_state.size()) {
    throw Error(path, "checkpoint has " + std::to_string(stored_state.size()) +
                          " tensors, the model " + std::to_string(target_state.size()));
  }
  for (auto& [state_name, tensor] : target_state) {
    const auto found = stored_state.find(state_name);
    if (found == stored_state.end()) {
      throw Error(path, "checkpoint lacks tensor \"" + state_name + "\" of " + model.description());
    }
    if (found->second.sizes() != tensor.sizes()) {
      throw Error(path, "tensor \"" + state_name + "\" has shape " +
                            c10::str(found->second.sizes()) + " in the checkpoint, " +
                            c10::str(tensor.sizes()) + " in the model");
    }
    tensor.copy_(found->second);
  }
  return metadata;
}

}  // namespace

CheckpointMetadata load_checkpoint_into(const std::string& path, BuiltinClassifier& model) {
  auto archive = open_archive(path);
  return load_archive_into(archive, path, model);
}

LoadedModel load_checkpoint_bytes(const std::string& bytes, const std::string& where,
                                  torch::Device device) {
  auto archive = archive_from_bytes(bytes, where);
  const CheckpointMetadata metadata = read_metadata(archive, where);
  auto model = std::make_unique<BuiltinClassifier>(resolve_architecture(metadata.architecture));
  load_archive_into(archive, where, *model);
  model->to(device);
  model->set_training(false);
  return {std::move(model), metadata};
}

LoadedModel load_checkpoint(const std::string& path, torch::Device device) {
  return load_checkpoint_bytes(read_checkpoint_bytes(path), path, device);
}

}  // namespace robustscope
