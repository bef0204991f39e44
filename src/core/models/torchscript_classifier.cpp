// TorchScript models behind the Classifier interface.
#include "core/models/torchscript_classifier.hpp"

#include <filesystem>
#include <sstream>

#include "core/error.hpp"
#include "core/runtime/files.hpp"
#include "core/runtime/libtorch_compat.hpp"

namespace robustscope {

namespace {

std::string read_torchscript_file(const std::string& path) {
  if (!std::filesystem::exists(path)) throw Error(path, "TorchScript model file does not exist");
  return read_text_file(path, size_t{1} << 40);
}

}  // namespace

TorchScriptClassifier::TorchScriptClassifier(const std::string& path, torch::Device device)
    : TorchScriptClassifier(path, read_torchscript_file(path), device) {}

TorchScriptClassifier::TorchScriptClassifier(const std::string& path, const std::string& bytes,
                                             torch::Device device)
    : path_(path) {
  compat::turn_off_nnpack();
  try {
    std::istringstream stream(bytes);
    module_ = torch::jit::load(stream, device);
  } catch (const c10::Error& error) {
    throw Error(path,
                std::string("not a loadable TorchScript model: ") + error.what_without_backtrace());
  }
  module_.eval();
}

torch::Tensor TorchScriptClassifier::forward(const torch::Tensor& images) {
  const c10::IValue output = module_.forward({images});
  if (!output.isTensor()) {
    throw Error(path_,
                "the TorchScript model returns " + output.tagKind() + ", expected a logits tensor");
  }
  return output.toTensor();
}

void TorchScriptClassifier::set_training(bool training) { module_.train(training); }

void TorchScriptClassifier::to(torch::Device device) { module_.to(device); }

std::vector<torch::Tensor> TorchScriptClassifier::parameters() {
  std::vector<torch::Tensor> parameters;
  for (const auto& parameter : module_.parameters()) parameters.push_back(parameter);
  return parameters;
}

std::string TorchScriptClassifier::description() const { return "torchscript(" + path_ + ")"; }

}  // namespace robustscope
