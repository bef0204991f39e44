// An attack config as a run of the one ascent loop: the conversion AttackConfig → AscentSettings in
// one place, and the fixed-step ascent behind FGSM, BIM and PGD, which the landscape's PGD
// direction and the adversarial-training recipes reuse.
#pragma once

#include "core/attack/ascent.hpp"
#include "core/attack/attack.hpp"

namespace robustscope {

// steps, restarts, random start and seed of `config` (FGSM: one step from x, no restarts).
AscentSettings attack_ascent_settings(const AttackConfig& config, bool restart_only_unfooled);

// FGSM (one step of ε from x), BIM (no random start) and PGD: the ascent loop with a fixed step of
// the config's size on the config's loss. Attacks run restarts only on what is still unfooled.
AscentResult fixed_step_ascent(Classifier& model, const torch::Tensor& images,
                               const torch::Tensor& labels, const torch::Tensor& sample_ids,
                               const AttackConfig& config, bool restart_only_unfooled);

// The attack's examples from an ascent: the first fooling iterate, else the best one.
Crafted crafted_from(const AscentResult& result);

}  // namespace robustscope
