// Where a model comes from (a robustscope checkpoint or a TorchScript file) and the one loader that
// checks it against the data set it will see.
#pragma once

#include <memory>
#include <string>

#include "core/data/dataset.hpp"
#include "core/models/classifier.hpp"

namespace robustscope {

struct ModelSource {
  std::string kind;  // "checkpoint" | "torchscript"
  std::string path;
};

// A model file's bytes, read once, and their FNV-1a 64 (16 hex digits): what ties stored results
// to the exact weights they were computed with. The loader builds the model from these bytes, so
// the hash always describes what was loaded, even when the file is replaced meanwhile.
struct ModelFile {
  std::string bytes;
  std::string hash;
};
ModelFile read_model_file(const std::string& path);

// Loads the model onto `device` in eval mode and checks that it fits `dataset`: a checkpoint
// trained for another data set, or a model whose output is not [N, num_classes] on the data set's
// input shape, throws Error naming the file and both sides. With `expected_hash`, bytes that hash
// otherwise (the file was replaced since it was hashed) throw Error naming the file and both
// hashes, before anything is built from them.
std::unique_ptr<Classifier> load_classifier(const ModelSource& source, const DatasetInfo& dataset,
                                            torch::Device device,
                                            const std::string& expected_hash = "");

}  // namespace robustscope
