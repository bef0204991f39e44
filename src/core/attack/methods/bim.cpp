// BIM (Kurakin, Goodfellow & Bengio 2016): iterated FGSM with step α, projected onto the ε-ball and
// the pixel box, from x itself (PGD without its random start).
#include "core/attack/attack_ascent.hpp"

namespace robustscope {
namespace {

Crafted craft(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
              const torch::Tensor& sample_ids, const AttackConfig& config) {
  return crafted_from(fixed_step_ascent(model, images, labels, sample_ids, config, true));
}

PassCount cost(const AttackConfig& config) { return {2, static_cast<double>(config.steps)}; }

}  // namespace

AttackDefinition bim_attack() {
  AttackConfig defaults;
  defaults.name = "bim";
  defaults.random_start = RandomStart::kNone;
  return {"bim",
          AttackFamily::kWhiteBoxReference,
          "Kurakin et al. 2016",
          "iterated FGSM from x, projected",
          {"norm", "epsilon", "steps", "step_size", "loss"},
          {},
          {Norm::kLinf, Norm::kL2},
          defaults,
          nullptr,
          cost,
          craft};
}

}  // namespace robustscope
