// Carlini & Wagner (2017) L2 attack: minimise ||x' − x||₂² + c·max(z_t − max_{j≠t} z_j + κ, 0) over
// x' = (tanh(w) + 1)/2 with Adam, a binary search on c per sample, and early abort when the loss
// stops falling. Its own loop: it optimises an unconstrained penalty, not a projected ascent.
#pragma once

#include <torch/types.h>

#include "core/models/classifier.hpp"

namespace robustscope {

struct CarliniWagnerSettings {
  int64_t steps = 100;  // Adam steps per binary-search round
  int64_t binary_search_steps = 5;
  double initial_const = 1.0;
  double learning_rate = 0.05;
  double confidence = 0;  // κ
};

struct CarliniWagnerResult {
  torch::Tensor adversarial;  // the smallest-L2 misclassified point found; x where none was
  torch::Tensor found;        // [N] bool
  int64_t forward_backward_passes = 0;
};

CarliniWagnerResult carlini_wagner_l2(Classifier& model, const torch::Tensor& images,
                                      const torch::Tensor& labels,
                                      const CarliniWagnerSettings& settings);

}  // namespace robustscope
