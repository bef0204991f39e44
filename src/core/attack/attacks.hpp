// Running attacks on a batch: one attack of the registry, the AutoAttack-style worst-case ensemble
// (each member on the points still unbroken), and the transfer attack from a substitute model.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "core/attack/attack.hpp"
#include "core/models/classifier.hpp"

namespace robustscope {

struct AttackOutcome {
  torch::Tensor adversarial;        // [N, ...] inside the ball and the box: the breaking point, or
                                    // the attack's best point where none broke it, or x itself
  torch::Tensor broken;             // [N] bool: misclassified at `adversarial` (or already at x)
  torch::Tensor clean_correct;      // [N] bool: classified correctly at x
  torch::Tensor perturbation_norm;  // [N] in the attack's norm
  torch::Tensor margin;             // [N] z_t − max_{j≠t} z_j at `adversarial`
  torch::Tensor broken_by;     // [N] int64: index of the ensemble member that broke it, -1 none,
                               // -2 misclassified at x already
  int64_t forward_passes = 0;  // per sample, summed
  int64_t forward_backward_passes = 0;
};

// Runs one attack on a batch. Only samples classified correctly at x are attacked; the others count
// as broken at x itself. `sample_ids` (CPU int64) seed the per-sample random starts. The settings
// are checked against the batch (ε within the input domain, target classes below the class count).
AttackOutcome run_attack(Classifier& model, const torch::Tensor& images,
                         const torch::Tensor& labels, const torch::Tensor& sample_ids,
                         const AttackConfig& config);

// The per-sample worst case over `attacks`: each runs only on the points still unbroken
// (AutoAttack), with one host synchronisation per member.
AttackOutcome run_ensemble(Classifier& model, const torch::Tensor& images,
                           const torch::Tensor& labels, const torch::Tensor& sample_ids,
                           const std::vector<AttackConfig>& attacks);

// Transfer (black-box) attack, Papernot et al. 2017: examples crafted by `crafting` on
// `substitute`, evaluated on `target`. Passes count the substitute's crafting and the target's
// evaluation.
AttackOutcome run_transfer_attack(Classifier& target, Classifier& substitute,
                                  const torch::Tensor& images, const torch::Tensor& labels,
                                  const torch::Tensor& sample_ids, const AttackConfig& crafting);

}  // namespace robustscope
