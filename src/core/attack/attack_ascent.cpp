// Attack configs as runs of the ascent loop.
#include "core/attack/attack_ascent.hpp"

#include <torch/types.h>

namespace robustscope {

AscentSettings attack_ascent_settings(const AttackConfig& config, bool restart_only_unfooled) {
  const bool single_step = config.name == "fgsm";
  AscentSettings settings;
  settings.steps = single_step ? 1 : config.steps;
  settings.restarts = single_step || config.name == "bim" ? 1 : config.restarts;
  settings.start = single_step || config.name == "bim" ? RandomStart::kNone : config.random_start;
  settings.seed = config.seed;
  settings.restart_only_unfooled = restart_only_unfooled;
  return settings;
}

AscentResult fixed_step_ascent(Classifier& model, const torch::Tensor& images,
                               const torch::Tensor& labels, const torch::Tensor& sample_ids,
                               const AttackConfig& config, bool restart_only_unfooled) {
  FixedStep rule(config.name == "fgsm" ? config.epsilon : config.effective_step_size());
  return run_ascent(model, images, Targets{labels, {}, {}}, sample_ids,
                    make_attack_objective(config.loss), ThreatModel{config.norm, config.epsilon},
                    rule, attack_ascent_settings(config, restart_only_unfooled));
}

Crafted crafted_from(const AscentResult& result) {
  return {result.fooled_x, result.fooled_x_logits, result.forward_passes,
          result.forward_backward_passes};
}

}  // namespace robustscope
