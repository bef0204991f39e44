// External models: a TorchScript file exported from PyTorch (torch.jit.trace or torch.jit.script)
// behind the Classifier interface. The exported module must take [N,C,H,W] images in [0,1] and
// return [N,K] logits; any normalisation belongs inside it.
#pragma once

#include <torch/script.h>

#include <string>

#include "core/models/classifier.hpp"

namespace robustscope {

class TorchScriptClassifier : public Classifier {
 public:
  // Loads `path` onto `device`. A missing or unreadable file throws Error naming it.
  TorchScriptClassifier(const std::string& path, torch::Device device);
  // Loads the file's `bytes`, read beforehand (what was hashed is what is loaded); errors name
  // `path`.
  TorchScriptClassifier(const std::string& path, const std::string& bytes, torch::Device device);

  torch::Tensor forward(const torch::Tensor& images) override;
  void set_training(bool training) override;
  void to(torch::Device device) override;
  std::vector<torch::Tensor> parameters() override;
  std::string description() const override;
  // The loaded module, for analyses that walk its graph (bound propagation).
  const torch::jit::script::Module& module() const { return module_; }

 private:
  std::string path_;
  torch::jit::script::Module module_;
};

}  // namespace robustscope
