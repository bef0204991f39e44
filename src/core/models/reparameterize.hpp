// Function-preserving and prediction-preserving reparameterisations of a built-in model, for the
// invariance study (methods.md §4):
//   last_layer_scale s  multiplies the last layer's weights and bias by s: logits × s, the same
//                       predictions, a different raw metric (and distillation's temperature: a
//                       model deployed at T is this with s = 1/T)
//   relu_rescale a      multiplies the first weight layer (weights and bias) by a and the next
//   one's
//                       weights by 1/a; ReLU and max-pooling between them are positively
//                       homogeneous, so the logits are unchanged (mlp and small-cnn)
#pragma once

#include <map>
#include <string>

#include "core/models/architectures.hpp"

namespace robustscope {

struct Reparameterization {
  double last_layer_scale = 1;
  double relu_rescale = 1;

  void set(const std::string& key, const std::string& value);  // Error on unknown key or value
  bool is_identity() const { return last_layer_scale == 1 && relu_rescale == 1; }
  std::map<std::string, std::string> to_entries() const;
};

// Applies `change` to the model's weights in place. Error for architectures it does not apply to.
void reparameterize(BuiltinClassifier& model, const Reparameterization& change);

}  // namespace robustscope
