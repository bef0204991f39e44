// Checkpoints of built-in models that carry everything needed to rebuild them: architecture and its
// arguments, data set, training recipe, seed, accuracy and versions, next to the weights.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/models/architectures.hpp"

namespace robustscope {

struct CheckpointMetadata {
  ArchitectureConfig architecture;
  std::string dataset;
  std::map<std::string, std::string> recipe;  // "name" (natural, …) and the recipe's settings
  uint64_t seed = 0;
  double test_accuracy = -1.0;  // negative: not measured
  std::string code_version;
  std::string libtorch_version;

  // Flat key/value form, as stored in the file and printed by `robustscope info`.
  std::map<std::string, std::string> to_entries() const;
  static CheckpointMetadata from_entries(const std::map<std::string, std::string>& entries,
                                         const std::string& where);
};

// Writes weights, buffers and metadata (code and LibTorch versions are filled in here).
void save_checkpoint(const std::string& path, BuiltinClassifier& model,
                     CheckpointMetadata metadata);

CheckpointMetadata read_checkpoint_metadata(const std::string& path);

struct LoadedModel {
  std::unique_ptr<BuiltinClassifier> model;
  CheckpointMetadata metadata;
};

// Rebuilds the model from the checkpoint alone and places it on `device`, in eval mode.
LoadedModel load_checkpoint(const std::string& path, torch::Device device);
// The same from a checkpoint file's bytes, read beforehand; errors name `where` (the file).
LoadedModel load_checkpoint_bytes(const std::string& bytes, const std::string& where,
                                  torch::Device device);

// Loads the checkpoint's weights into an existing model. A checkpoint of another architecture (or
// the same with other arguments, shape or classes) throws Error naming both.
CheckpointMetadata load_checkpoint_into(const std::string& path, BuiltinClassifier& model);

}  // namespace robustscope
