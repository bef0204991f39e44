// APGD (Croce & Hein 2020): the ascent loop with APGD's step rule (momentum, step halving at
// checkpoints, restarts from the best point), on cross-entropy (apgd-ce), the DLR loss (apgd-dlr),
// or the targeted DLR loss against each of the most likely other classes in turn (apgd-t).
#include <torch/types.h>
#include <torch/utils.h>

#include "core/attack/attack_ascent.hpp"

namespace robustscope {
namespace {

Crafted untargeted(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                   const torch::Tensor& sample_ids, const AttackConfig& config, Loss loss) {
  ApgdStep rule(config.rho);
  const AscentResult result = run_ascent(
      model, images, Targets{labels, {}, {}}, sample_ids, make_attack_objective(loss),
      ThreatModel{config.norm, config.epsilon}, rule, attack_ascent_settings(config, true));
  return crafted_from(result);
}

Crafted craft_ce(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                 const torch::Tensor& sample_ids, const AttackConfig& config) {
  return untargeted(model, images, labels, sample_ids, config, Loss::kCrossEntropy);
}

Crafted craft_dlr(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                  const torch::Tensor& sample_ids, const AttackConfig& config) {
  return untargeted(model, images, labels, sample_ids, config, Loss::kDlr);
}

// One run per target class, the k-th most likely other class at x, each on the samples no earlier
// target has fooled (one host synchronisation per target).
Crafted craft_targeted(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                       const torch::Tensor& sample_ids, const AttackConfig& config) {
  Crafted crafted{images.clone(), {}, 0, 0};
  torch::Tensor ranking;
  {
    torch::NoGradGuard no_grad;
    crafted.logits = model.forward(images);
    ranking = std::get<1>(crafted.logits.sort(1, /*descending=*/true));
    crafted.forward_passes += images.size(0);
  }
  const int64_t classes = ranking.size(1);
  torch::Tensor unfooled = torch::arange(images.size(0), labels.options());
  const Objective objective = make_attack_objective(Loss::kDlrTargeted);
  ApgdStep rule(config.rho);
  for (int64_t target = 1; target <= std::min(config.target_classes, classes - 1); ++target) {
    if (unfooled.numel() == 0) break;
    const Targets subset{
        labels.index_select(0, unfooled), ranking.select(1, target).index_select(0, unfooled), {}};
    AscentSettings settings = attack_ascent_settings(config, true);
    settings.seed = config.seed + 1000003ULL * static_cast<uint64_t>(target);
    const AscentResult result = run_ascent(
        model, images.index_select(0, unfooled), subset, sample_ids.index_select(0, unfooled.cpu()),
        objective, ThreatModel{config.norm, config.epsilon}, rule, settings);
    crafted.forward_passes += result.forward_passes;
    crafted.forward_backward_passes += result.forward_backward_passes;
    crafted.adversarial.index_copy_(0, unfooled, result.fooled_x);
    crafted.logits.index_copy_(0, unfooled, result.fooled_x_logits);
    unfooled = unfooled.masked_select(result.fooled.logical_not());
  }
  return crafted;
}

PassCount cost(const AttackConfig& config) {
  return {2, static_cast<double>(config.restarts * config.steps)};
}

PassCount cost_targeted(const AttackConfig& config) {
  return {3, static_cast<double>(config.target_classes * config.restarts * config.steps)};
}

AttackConfig defaults(const std::string& name) {
  AttackConfig config;
  config.name = name;
  config.random_start = RandomStart::kBoundary;
  return config;
}

const std::vector<std::string> kKeys = {"norm", "epsilon",      "steps", "restarts",
                                        "rho",  "random_start", "seed"};

}  // namespace

AttackDefinition apgd_ce_attack() {
  return {"apgd-ce",
          AttackFamily::kWhiteBox,
          "Croce & Hein 2020",
          "APGD on cross-entropy",
          kKeys,
          {{"loss", "ce"}},
          {Norm::kLinf, Norm::kL2},
          defaults("apgd-ce"),
          nullptr,
          cost,
          craft_ce};
}

AttackDefinition apgd_dlr_attack() {
  return {"apgd-dlr",
          AttackFamily::kWhiteBox,
          "Croce & Hein 2020",
          "APGD on the DLR loss (scale invariant)",
          kKeys,
          {{"loss", "dlr"}},
          {Norm::kLinf, Norm::kL2},
          defaults("apgd-dlr"),
          nullptr,
          cost,
          craft_dlr};
}

AttackDefinition apgd_t_attack() {
  std::vector<std::string> keys = kKeys;
  keys.push_back("target_classes");
  return {"apgd-t",
          AttackFamily::kWhiteBox,
          "Croce & Hein 2020",
          "APGD on the targeted DLR loss, per most likely other class",
          keys,
          {{"loss", "dlr-targeted"}},
          {Norm::kLinf, Norm::kL2},
          defaults("apgd-t"),
          nullptr,
          cost_targeted,
          craft_targeted};
}

}  // namespace robustscope
