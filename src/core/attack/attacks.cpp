// The ensemble and the transfer attack around the registry's attacks.
#include "core/attack/attacks.hpp"

#include <torch/types.h>
#include <torch/utils.h>

#include "core/error.hpp"

namespace robustscope {
namespace {

torch::Tensor clean_logits(Classifier& model, const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  model.set_training(false);
  return model.forward(images);
}

}  // namespace

AttackOutcome run_attack(Classifier& model, const torch::Tensor& images,
                         const torch::Tensor& labels, const torch::Tensor& sample_ids,
                         const AttackConfig& config) {
  return run_ensemble(model, images, labels, sample_ids, {config});
}

AttackOutcome run_ensemble(Classifier& model, const torch::Tensor& images,
                           const torch::Tensor& labels, const torch::Tensor& sample_ids,
                           const std::vector<AttackConfig>& attacks) {
  if (attacks.empty()) throw Error("ensemble", "needs at least one attack");
  for (const auto& attack : attacks) {
    validate_attack(attack);
    check_epsilon(attack.norm, attack.epsilon, images[0].numel(), "epsilon");
  }
  AttackOutcome outcome;
  outcome.adversarial = images.clone();
  const torch::Tensor logits = clean_logits(model, images);
  outcome.clean_correct = logits.argmax(1).eq(labels);
  outcome.forward_passes = images.size(0);
  outcome.margin = logit_margin(logits, labels);
  outcome.broken_by = torch::where(outcome.clean_correct, torch::full_like(labels, -1),
                                   torch::full_like(labels, -2));
  torch::Tensor remaining = outcome.clean_correct.nonzero().squeeze(1);
  for (size_t k = 0; k < attacks.size() && remaining.numel() > 0; ++k) {
    const torch::Tensor remaining_labels = labels.index_select(0, remaining);
    const Crafted crafted = find_attack(attacks[k].name)
                                .craft(model, images.index_select(0, remaining), remaining_labels,
                                       sample_ids.index_select(0, remaining.cpu()), attacks[k]);
    outcome.forward_passes += crafted.forward_passes;
    outcome.forward_backward_passes += crafted.forward_backward_passes;
    torch::Tensor member_logits = crafted.logits;
    if (!member_logits.defined()) {
      torch::NoGradGuard no_grad;
      member_logits = model.forward(crafted.adversarial);
      outcome.forward_passes += remaining.numel();
    }
    const torch::Tensor margin = logit_margin(member_logits, remaining_labels);
    // Every attacked sample keeps the attack's candidate (the breaking point, or the point of
    // highest loss), so the reported margin is the worst one found. A margin below zero is a broken
    // sample; argmax ties (margin exactly 0) count as unbroken, as argmax picks the lowest index.
    const torch::Tensor now_broken = margin < 0;
    outcome.adversarial.index_copy_(0, remaining, crafted.adversarial);
    outcome.margin.index_copy_(0, remaining, margin);
    outcome.broken_by.index_copy_(
        0, remaining,
        torch::where(now_broken, torch::full_like(remaining, static_cast<int64_t>(k)),
                     outcome.broken_by.index_select(0, remaining)));
    remaining = remaining.masked_select(now_broken.logical_not());
  }
  outcome.broken = outcome.broken_by != -1;
  // Norms are reported in the first attack's norm.
  outcome.perturbation_norm = ThreatModel{attacks.front().norm, attacks.front().epsilon}.distance(
      outcome.adversarial, images);
  return outcome;
}

AttackOutcome run_transfer_attack(Classifier& target, Classifier& substitute,
                                  const torch::Tensor& images, const torch::Tensor& labels,
                                  const torch::Tensor& sample_ids, const AttackConfig& crafting) {
  const AttackOutcome crafted = run_attack(substitute, images, labels, sample_ids, crafting);
  AttackOutcome outcome;
  outcome.forward_backward_passes = crafted.forward_backward_passes;
  outcome.forward_passes = crafted.forward_passes + 2 * images.size(0);
  outcome.clean_correct = clean_logits(target, images).argmax(1).eq(labels);
  const torch::Tensor& correct = outcome.clean_correct;
  // Points the target already misclassifies stay as they are; the others get the crafted example.
  outcome.adversarial = torch::where(per_sample_view(correct, images), crafted.adversarial, images);
  outcome.margin = logit_margin(clean_logits(target, outcome.adversarial), labels);
  outcome.broken = (outcome.margin < 0) | correct.logical_not();
  outcome.broken_by = torch::where(
      correct,
      torch::where(outcome.broken, torch::zeros_like(labels), torch::full_like(labels, -1)),
      torch::full_like(labels, -2));
  outcome.perturbation_norm =
      ThreatModel{crafting.norm, crafting.epsilon}.distance(outcome.adversarial, images);
  return outcome;
}

}  // namespace robustscope
