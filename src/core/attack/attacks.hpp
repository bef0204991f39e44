// Adversarial attacks by name, each a configuration of the one ascent loop (or, for Carlini–Wagner
// L2, of its own Adam loop), the AutoAttack-style worst-case ensemble, and the transfer attack.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "core/attack/threat_model.hpp"
#include "core/data/dataset.hpp"
#include "core/models/classifier.hpp"

namespace robustscope {

//   fgsm      Goodfellow et al. 2015: one step of size ε from x, no random start
//   bim       Kurakin et al. 2016: PGD without random start
//   pgd       Madry et al. 2018: projected steepest ascent with random start and restarts
//   apgd-ce   Croce & Hein 2020, cross-entropy
//   apgd-dlr  Croce & Hein 2020, DLR loss
//   apgd-t    Croce & Hein 2020, targeted DLR over the `target_classes` most likely other classes
//   cw-l2     Carlini & Wagner 2017, L2: Adam on tanh-space inputs, binary search on c, early
//   abort;
//             a sample counts as broken when a misclassified point with ||δ||₂ <= ε was found
struct AttackConfig {
  std::string name = "pgd";
  Norm norm = Norm::kLinf;
  double epsilon = 0.3;
  int64_t steps = 40;
  double step_size = 0;  // 0: 2.5·ε/steps (Madry et al.)
  int64_t restarts = 1;
  std::string loss = "ce";        // fgsm, bim, pgd: ce | margin | dlr
  std::string random_start = "";  // "": the attack's own (pgd uniform, apgd boundary, others none)
  uint64_t seed = 0;
  int64_t target_classes = 9;       // apgd-t
  double rho = 0.75;                // apgd checkpoint threshold
  double confidence = 0;            // cw-l2 κ
  int64_t binary_search_steps = 5;  // cw-l2
  double initial_const = 1.0;       // cw-l2 c at the start of the search
  double learning_rate = 0.05;      // cw-l2 Adam step (with steps >= 100, see docs/attacks.md)

  // Sets a field from text by its name (the words of spec keys and CLI flags); Error on an unknown
  // key or a malformed value.
  void set(const std::string& key, const std::string& value);
  // Throws Error naming the first invalid field (unknown attack, negative ε, zero steps, …).
  void validate() const;
  double effective_step_size() const;
  RandomStart effective_random_start() const;
  std::map<std::string, std::string> to_entries() const;
  std::string label() const;  // "pgd(linf, eps=0.3, steps=40, ...)"
};

std::vector<std::string> known_attacks();

struct AttackOutcome {
  torch::Tensor adversarial;        // [N, ...] inside the ball and the box: the breaking point, or
                                    // the attack's best point where none broke it, or x itself
  torch::Tensor broken;             // [N] bool: misclassified at `adversarial` (or already at x)
  torch::Tensor perturbation_norm;  // [N] in the attack's norm
  torch::Tensor margin;             // [N] z_t − max_{j≠t} z_j at `adversarial`
  torch::Tensor broken_by;     // [N] int64: index of the ensemble member that broke it, -1 none
  int64_t forward_passes = 0;  // per sample, summed
  int64_t forward_backward_passes = 0;
};

// Runs one attack on a batch. Only samples classified correctly at x are attacked; the others count
// as broken at x itself. `sample_ids` (CPU int64) seed the per-sample random starts.
AttackOutcome run_attack(Classifier& model, const torch::Tensor& images,
                         const torch::Tensor& labels, const torch::Tensor& sample_ids,
                         const AttackConfig& config);

// The per-sample worst case over `attacks`: each runs only on the points still unbroken
// (AutoAttack).
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
