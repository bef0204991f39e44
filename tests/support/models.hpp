// Small models for tests: a linear softmax classifier with known weights, and tiny random nets.
#pragma once

#include <torch/types.h>
#include <torch/utils.h>

#include <cmath>

#include "core/models/architectures.hpp"

namespace robustscope::testing {

// A linear classifier z = W·flatten(x) + b on [1, height, width] inputs, with no normalisation
// (the mlp architecture with zero hidden layers), weights drawn from `seed`.
inline BuiltinClassifier linear_model(int64_t height, int64_t width, int64_t classes,
                                      uint64_t seed) {
  ArchitectureConfig config;
  config.name = "mlp";
  config.input = {1, height, width};
  config.num_classes = classes;
  config.arguments = {{"layers", 0}};
  BuiltinClassifier model(config);
  auto generator = at::detail::createCPUGenerator(seed);
  torch::NoGradGuard no_grad;
  for (auto& parameter : model.parameters()) {
    parameter.copy_(torch::randn(parameter.sizes(), generator));
  }
  model.set_training(false);
  return model;
}

// Redraws every parameter of a network without normalisation layers from `seed`, in the scale of
// LibTorch's default initialisation (weights and the biases that follow them uniform in
// ±1/√fan_in), so a test's network depends on its seed alone, not on how a LibTorch version
// initialises layers.
inline void redraw_parameters(BuiltinClassifier& model, uint64_t seed) {
  auto generator = at::detail::createCPUGenerator(seed);
  torch::NoGradGuard no_grad;
  double bound = 1;
  for (auto& parameter : model.parameters()) {
    if (parameter.dim() >= 2)
      bound = 1 / std::sqrt(static_cast<double>(parameter.numel() / parameter.size(0)));
    parameter.copy_(torch::rand(parameter.sizes(), generator) * (2 * bound) - bound);
  }
}

// The linear layer's weight [K, d] and bias [K] of linear_model().
inline std::pair<torch::Tensor, torch::Tensor> linear_weights(BuiltinClassifier& model) {
  const auto parameters = model.network()->named_parameters();
  torch::Tensor weight, bias;
  for (const auto& item : parameters) {
    if (item.key().find("weight") != std::string::npos) weight = item.value().detach();
    if (item.key().find("bias") != std::string::npos) bias = item.value().detach();
  }
  return {weight, bias};
}

}  // namespace robustscope::testing
