// The one model loader.
#include "core/models/model_source.hpp"

#include <filesystem>

#include "core/error.hpp"
#include "core/models/checkpoint.hpp"
#include "core/models/torchscript_classifier.hpp"
#include "core/runtime/files.hpp"
#include "core/runtime/hashing.hpp"

namespace robustscope {

ModelFile read_model_file(const std::string& path) {
  if (!std::filesystem::exists(path)) throw Error(path, "model file does not exist");
  // Any size a model file may have; the bound only keeps a device or a pipe out.
  ModelFile file;
  file.bytes = read_text_file(path, size_t{1} << 40);
  file.hash = fnv1a_hex(file.bytes);
  return file;
}

std::unique_ptr<Classifier> load_classifier(const ModelSource& source, const DatasetInfo& dataset,
                                            torch::Device device,
                                            const std::string& expected_hash) {
  if (source.kind != "checkpoint" && source.kind != "torchscript")
    throw Error("model kind",
                "\"" + source.kind + "\" is unknown (known: checkpoint, torchscript)");
  const ModelFile file = read_model_file(source.path);
  if (!expected_hash.empty() && file.hash != expected_hash) {
    throw Error(source.path, "has changed while the run used it: its tasks were planned for hash " +
                                 expected_hash + ", the file now hashes to " + file.hash +
                                 " (nothing was computed with it; restore the file, or rerun to "
                                 "plan for the new one)");
  }
  std::unique_ptr<Classifier> model;
  if (source.kind == "checkpoint") {
    LoadedModel loaded = load_checkpoint_bytes(file.bytes, source.path, device);
    if (loaded.metadata.dataset != dataset.name) {
      throw Error(source.path, "checkpoint was trained on \"" + loaded.metadata.dataset +
                                   "\", not on \"" + dataset.name + "\"");
    }
    model = std::move(loaded.model);
  } else {
    model = std::make_unique<TorchScriptClassifier>(source.path, file.bytes, device);
  }
  check_output_shape(*model, dataset.shape, dataset.num_classes, device, source.path);
  return model;
}

}  // namespace robustscope
