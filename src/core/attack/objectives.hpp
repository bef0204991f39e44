// What an attack maximises, per sample: cross-entropy, the Carlini–Wagner margin, or the DLR loss.
#pragma once

#include <torch/types.h>

#include <functional>
#include <string>

#include "core/settings.hpp"

namespace robustscope {

// Per-sample data an objective may need; every field is indexed by sample and may be undefined when
// the objective does not use it.
struct Targets {
  torch::Tensor labels;           // true classes [N]
  torch::Tensor target_labels;    // targeted objectives [N]
  torch::Tensor clean_log_probs;  // divergence objectives: log p̃(x) [N, K]

  Targets select(const torch::Tensor& index) const;
};

// Logits [N, K] → per-sample values [N] to maximise.
using Objective = std::function<torch::Tensor(const torch::Tensor& logits, const Targets& targets)>;

// The decision surface S = z_t − max_{j≠t} z_j: positive when correct, zero on the boundary.
torch::Tensor logit_margin(const torch::Tensor& logits, const torch::Tensor& labels);

//   ce            cross-entropy −log p_t
//   margin        Carlini & Wagner (2017) margin max_{j≠t} z_j − z_t (= −S)
//   dlr           Croce & Hein (2020) −(z_t − max_{j≠t} z_j) / (z_π1 − z_π3 + 1e-12)
//   dlr-targeted  Croce & Hein (2020) −(z_t − z_target) / (z_π1 − (z_π3 + z_π4)/2 + 1e-12)
enum class Loss { kCrossEntropy, kMargin, kDlr, kDlrTargeted };
const EnumNames<Loss>& loss_names();

Objective make_attack_objective(Loss loss);

}  // namespace robustscope
