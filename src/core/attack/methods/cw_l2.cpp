// Carlini & Wagner (2017) L2 as an attack of the registry: the minimum-norm search of
// carlini_wagner.hpp, counted as broken when the misclassified point it found lies in the ε-ball.
#include <torch/types.h>

#include "core/attack/attack.hpp"
#include "core/attack/carlini_wagner.hpp"

namespace robustscope {
namespace {

Crafted craft(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
              const torch::Tensor&, const AttackConfig& config) {
  const ThreatModel threat{config.norm, config.epsilon};
  const CarliniWagnerSettings settings{config.steps, config.binary_search_steps,
                                       config.initial_const, config.learning_rate,
                                       config.confidence};
  const CarliniWagnerResult result = carlini_wagner_l2(model, images, labels, settings);
  // Only what lies inside the ε-ball counts; elsewhere the clean point stands.
  const torch::Tensor inside = threat.distance(result.adversarial, images) <= config.epsilon + 1e-6;
  return {torch::where(per_sample_view(inside, images), result.adversarial, images),
          {},
          0,
          result.forward_backward_passes};
}

void check(const AttackConfig& config) {
  if (!(config.confidence >= 0)) throw Error::for_key("confidence", "must be >= 0");
  if (!(config.initial_const > 0)) throw Error::for_key("initial_const", "must be positive");
  if (!(config.learning_rate > 0)) throw Error::for_key("learning_rate", "must be positive");
}

PassCount cost(const AttackConfig& config) {
  return {2, static_cast<double>(config.binary_search_steps * config.steps)};
}

}  // namespace

AttackDefinition cw_l2_attack() {
  AttackConfig defaults;
  defaults.name = "cw-l2";
  defaults.norm = Norm::kL2;
  defaults.random_start = RandomStart::kNone;
  return {
      "cw-l2",
      AttackFamily::kWhiteBox,
      "Carlini & Wagner 2017",
      "Adam on tanh-space inputs, binary search on c; broken when the point found is in the ball",
      {"norm", "epsilon", "steps", "binary_search_steps", "initial_const", "learning_rate",
       "confidence"},
      {},
      {Norm::kL2},
      defaults,
      check,
      cost,
      craft};
}

}  // namespace robustscope
