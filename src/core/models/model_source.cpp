// The one model loader.
#include "core/models/model_source.hpp"

#include "core/error.hpp"
#include "core/models/checkpoint.hpp"
#include "core/models/torchscript_classifier.hpp"
#include "core/runtime/hashing.hpp"

namespace robustscope {

std::string model_file_hash(const ModelSource& source) { return file_hash(source.path); }

std::unique_ptr<Classifier> load_classifier(const ModelSource& source, const DatasetInfo& dataset,
                                            torch::Device device) {
  std::unique_ptr<Classifier> model;
  if (source.kind == "checkpoint") {
    LoadedModel loaded = load_checkpoint(source.path, device);
    if (loaded.metadata.dataset != dataset.name) {
      throw Error(source.path, "checkpoint was trained on \"" + loaded.metadata.dataset +
                                   "\", not on \"" + dataset.name + "\"");
    }
    model = std::move(loaded.model);
  } else if (source.kind == "torchscript") {
    model = std::make_unique<TorchScriptClassifier>(source.path, device);
  } else {
    throw Error("model kind",
                "\"" + source.kind + "\" is unknown (known: checkpoint, torchscript)");
  }
  check_output_shape(*model, dataset.shape, dataset.num_classes, device, source.path);
  return model;
}

}  // namespace robustscope
