// FGSM (Goodfellow, Shlens & Szegedy 2015): one step of size ε along the steepest-ascent direction
// of the loss (sign of the gradient for L∞), from x itself.
#include "core/attack/attack_ascent.hpp"

namespace robustscope {
namespace {

Crafted craft(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
              const torch::Tensor& sample_ids, const AttackConfig& config) {
  return crafted_from(fixed_step_ascent(model, images, labels, sample_ids, config, true));
}

PassCount cost(const AttackConfig&) { return {2, 1}; }

}  // namespace

AttackDefinition fgsm_attack() {
  AttackConfig defaults;
  defaults.name = "fgsm";
  defaults.steps = 1;
  defaults.random_start = RandomStart::kNone;
  return {"fgsm",
          AttackFamily::kSingleStep,
          "Goodfellow et al. 2015",
          "one step of size ε from x",
          {"norm", "epsilon", "loss"},
          {},
          {Norm::kLinf, Norm::kL2},
          defaults,
          nullptr,
          cost,
          craft};
}

}  // namespace robustscope
