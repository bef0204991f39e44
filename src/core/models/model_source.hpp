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

// FNV-1a 64 of the model file's bytes (16 hex digits): what ties stored results to the exact
// weights they were computed with.
std::string model_file_hash(const ModelSource& source);

// Loads the model onto `device` in eval mode and checks that it fits `dataset`: a checkpoint
// trained for another data set, or a model whose output is not [N, num_classes] on the data set's
// input shape, throws Error naming the file and both sides.
std::unique_ptr<Classifier> load_classifier(const ModelSource& source, const DatasetInfo& dataset,
                                            torch::Device device);

}  // namespace robustscope
