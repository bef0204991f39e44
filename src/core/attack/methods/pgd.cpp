// PGD (Madry et al. 2018): projected steepest ascent on the loss from a random start in the ball,
// with restarts on the samples still unbroken.
#include "core/attack/attack_ascent.hpp"

namespace robustscope {
namespace {

Crafted craft(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
              const torch::Tensor& sample_ids, const AttackConfig& config) {
  return crafted_from(fixed_step_ascent(model, images, labels, sample_ids, config, true));
}

PassCount cost(const AttackConfig& config) {
  return {2, static_cast<double>(config.restarts * config.steps)};
}

}  // namespace

AttackDefinition pgd_attack() {
  AttackConfig defaults;
  defaults.name = "pgd";
  defaults.random_start = RandomStart::kUniform;
  return {"pgd",
          AttackFamily::kWhiteBoxReference,
          "Madry et al. 2018",
          "projected steepest ascent from a random start, restarts",
          {"norm", "epsilon", "steps", "step_size", "restarts", "loss", "random_start", "seed"},
          {},
          {Norm::kLinf, Norm::kL2},
          defaults,
          nullptr,
          cost,
          craft};
}

}  // namespace robustscope
