// Attacks by name, the worst-case ensemble and the transfer attack.
#include "core/attack/attacks.hpp"

#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <sstream>

#include "core/attack/ascent.hpp"
#include "core/attack/carlini_wagner.hpp"
#include "core/attack/objectives.hpp"
#include "core/error.hpp"
#include "core/settings_text.hpp"

namespace robustscope {
namespace {

const std::vector<std::string> kAttacks = {"fgsm",     "bim",    "pgd",  "apgd-ce",
                                           "apgd-dlr", "apgd-t", "cw-l2"};

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

bool is_apgd(const std::string& name) { return name.rfind("apgd", 0) == 0; }

}  // namespace

std::vector<std::string> known_attacks() { return kAttacks; }

void AttackConfig::set(const std::string& key, const std::string& value) {
  if (key == "name")
    name = value;
  else if (key == "norm")
    norm = parse_norm(value);
  else if (key == "epsilon")
    epsilon = parse_number(key, value);
  else if (key == "steps")
    steps = parse_integer(key, value);
  else if (key == "step_size")
    step_size = parse_number(key, value);
  else if (key == "restarts")
    restarts = parse_integer(key, value);
  else if (key == "loss")
    loss = value;
  else if (key == "random_start")
    random_start = value;
  else if (key == "seed")
    seed = static_cast<uint64_t>(parse_integer(key, value));
  else if (key == "target_classes")
    target_classes = parse_integer(key, value);
  else if (key == "rho")
    rho = parse_number(key, value);
  else if (key == "confidence")
    confidence = parse_number(key, value);
  else if (key == "binary_search_steps")
    binary_search_steps = parse_integer(key, value);
  else if (key == "initial_const")
    initial_const = parse_number(key, value);
  else if (key == "learning_rate")
    learning_rate = parse_number(key, value);
  else {
    throw Error("attack setting",
                "\"" + key +
                    "\" is unknown (known: name, norm, epsilon, steps, "
                    "step_size, restarts, loss, random_start, seed, target_classes, "
                    "rho, confidence, binary_search_steps, initial_const, "
                    "learning_rate)");
  }
}

void AttackConfig::validate() const {
  if (std::find(kAttacks.begin(), kAttacks.end(), name) == kAttacks.end()) {
    throw Error("attack", "\"" + name + "\" is unknown (known: " + join(kAttacks) + ")");
  }
  if (!(epsilon >= 0) || !std::isfinite(epsilon)) {
    throw Error("epsilon", "must be a finite number >= 0, got " + format_number(epsilon));
  }
  if (steps < 1) throw Error("steps", "must be at least 1, got " + std::to_string(steps));
  if (!(step_size >= 0) || !std::isfinite(step_size)) {
    throw Error("step_size",
                "must be >= 0 (0: 2.5·epsilon/steps), got " + format_number(step_size));
  }
  if (restarts < 1) throw Error("restarts", "must be at least 1, got " + std::to_string(restarts));
  make_attack_objective(loss);
  if (loss == "dlr-targeted") throw Error("loss", "dlr-targeted is apgd-t's own loss");
  if (!random_start.empty()) parse_random_start(random_start);
  if (target_classes < 1) throw Error("target_classes", "must be at least 1");
  if (!(rho > 0 && rho < 1)) throw Error("rho", "must be in (0, 1), got " + format_number(rho));
  if (name == "cw-l2") {
    if (norm != Norm::kL2) throw Error("norm", "cw-l2 is an L2 attack: set norm to l2");
    if (!(confidence >= 0)) throw Error("confidence", "must be >= 0");
    if (binary_search_steps < 1) throw Error("binary_search_steps", "must be at least 1");
    if (!(initial_const > 0)) throw Error("initial_const", "must be positive");
    if (!(learning_rate > 0)) throw Error("learning_rate", "must be positive");
  }
}

double AttackConfig::effective_step_size() const {
  if (name == "fgsm") return epsilon;
  return step_size > 0 ? step_size : 2.5 * epsilon / static_cast<double>(steps);
}

RandomStart AttackConfig::effective_random_start() const {
  if (!random_start.empty()) return parse_random_start(random_start);
  if (name == "pgd") return RandomStart::kUniform;
  if (is_apgd(name)) return RandomStart::kBoundary;
  return RandomStart::kNone;
}

std::map<std::string, std::string> AttackConfig::to_entries() const {
  std::map<std::string, std::string> entries = {{"name", name},
                                                {"norm", norm_name(norm)},
                                                {"epsilon", format_number(epsilon)},
                                                {"seed", std::to_string(seed)}};
  if (name == "cw-l2") {
    entries.insert({{"steps", std::to_string(steps)},
                    {"binary_search_steps", std::to_string(binary_search_steps)},
                    {"initial_const", format_number(initial_const)},
                    {"learning_rate", format_number(learning_rate)},
                    {"confidence", format_number(confidence)}});
    return entries;
  }
  entries["random_start"] = random_start_name(effective_random_start());
  entries["restarts"] = std::to_string(restarts);
  if (name != "fgsm") entries["steps"] = std::to_string(steps);
  if (is_apgd(name)) {
    entries["rho"] = format_number(rho);
    entries["loss"] = name == "apgd-ce" ? "ce" : name == "apgd-dlr" ? "dlr" : "dlr-targeted";
    if (name == "apgd-t") entries["target_classes"] = std::to_string(target_classes);
  } else {
    entries["loss"] = loss;
    entries["step_size"] = format_number(effective_step_size());
  }
  return entries;
}

std::string AttackConfig::label() const {
  std::string text;
  for (const auto& [key, value] : to_entries()) {
    if (key != "name") text += (text.empty() ? "" : ", ") + key + "=" + value;
  }
  return name + "(" + text + ")";
}

namespace {

// The attack proper on samples the model classifies correctly; returns candidates and passes.
struct Candidates {
  torch::Tensor adversarial;
  torch::Tensor logits;  // at `adversarial` when the attack already knows them, else undefined
  int64_t forward_passes = 0;
  int64_t forward_backward_passes = 0;
};

Candidates craft(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                 const torch::Tensor& sample_ids, const AttackConfig& config) {
  const ThreatModel threat{config.norm, config.epsilon};
  if (config.name == "cw-l2") {
    CarliniWagnerSettings settings{config.steps, config.binary_search_steps, config.initial_const,
                                   config.learning_rate, config.confidence};
    const CarliniWagnerResult result = carlini_wagner_l2(model, images, labels, settings);
    // Only what lies inside the ε-ball counts; elsewhere the clean point stands.
    const torch::Tensor inside =
        threat.distance(result.adversarial, images) <= config.epsilon + 1e-6;
    return {torch::where(per_sample_view(inside, images), result.adversarial, images),
            {},
            0,
            result.forward_backward_passes};
  }
  AscentSettings settings;
  settings.steps = config.name == "fgsm" ? 1 : config.steps;
  settings.restarts = config.restarts;
  settings.start = config.effective_random_start();
  settings.seed = config.seed;
  settings.restart_only_unfooled = true;
  const Targets targets{labels, {}, {}};
  if (!is_apgd(config.name)) {
    FixedStep rule(config.effective_step_size());
    const AscentResult result =
        run_ascent(model, images, targets, sample_ids, make_attack_objective(config.loss), threat,
                   rule, settings);
    return {result.fooled_x, result.fooled_x_logits, result.forward_passes,
            result.forward_backward_passes};
  }
  ApgdStep rule(config.rho);
  if (config.name != "apgd-t") {
    const AscentResult result = run_ascent(
        model, images, targets, sample_ids,
        make_attack_objective(config.name == "apgd-ce" ? "ce" : "dlr"), threat, rule, settings);
    return {result.fooled_x, result.fooled_x_logits, result.forward_passes,
            result.forward_backward_passes};
  }
  // APGD-T: one run per target class, the k-th most likely other class at x, each on the samples
  // no earlier target has fooled.
  Candidates candidates{images.clone(), {}, 0, 0};
  torch::Tensor ranking;
  {
    torch::NoGradGuard no_grad;
    candidates.logits = model.forward(images);
    ranking = std::get<1>(candidates.logits.sort(1, /*descending=*/true));
    candidates.forward_passes += images.size(0);
  }
  const int64_t classes = ranking.size(1);
  torch::Tensor unfooled = torch::arange(images.size(0), labels.options());
  const Objective objective = make_attack_objective("dlr-targeted");
  for (int64_t target = 1; target <= std::min(config.target_classes, classes - 1); ++target) {
    if (unfooled.numel() == 0) break;
    const Targets subset{
        labels.index_select(0, unfooled), ranking.select(1, target).index_select(0, unfooled), {}};
    AscentSettings target_settings = settings;
    target_settings.seed = config.seed + 1000003ULL * static_cast<uint64_t>(target);
    const AscentResult result = run_ascent(model, images.index_select(0, unfooled), subset,
                                           sample_ids.index_select(0, unfooled.cpu()), objective,
                                           threat, rule, target_settings);
    candidates.forward_passes += result.forward_passes;
    candidates.forward_backward_passes += result.forward_backward_passes;
    candidates.adversarial.index_copy_(0, unfooled, result.fooled_x);
    candidates.logits.index_copy_(0, unfooled, result.fooled_x_logits);
    unfooled = unfooled.masked_select(result.fooled.logical_not());
  }
  return candidates;
}

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
  for (const auto& attack : attacks) attack.validate();
  AttackOutcome outcome;
  outcome.adversarial = images.clone();
  const torch::Tensor logits = clean_logits(model, images);
  const torch::Tensor correct = logits.argmax(1).eq(labels);
  outcome.forward_passes = images.size(0);
  outcome.margin = logit_margin(logits, labels);
  // -2: misclassified at x already; -1: unbroken; k: broken by attacks[k].
  outcome.broken_by =
      torch::where(correct, torch::full_like(labels, -1), torch::full_like(labels, -2));
  torch::Tensor remaining = correct.nonzero().squeeze(1);
  for (size_t k = 0; k < attacks.size() && remaining.numel() > 0; ++k) {
    const torch::Tensor remaining_labels = labels.index_select(0, remaining);
    const Candidates candidates = craft(model, images.index_select(0, remaining), remaining_labels,
                                        sample_ids.index_select(0, remaining.cpu()), attacks[k]);
    outcome.forward_passes += candidates.forward_passes;
    outcome.forward_backward_passes += candidates.forward_backward_passes;
    torch::Tensor logits = candidates.logits;
    if (!logits.defined()) {
      torch::NoGradGuard no_grad;
      logits = model.forward(candidates.adversarial);
      outcome.forward_passes += remaining.numel();
    }
    const torch::Tensor margin = logit_margin(logits, remaining_labels);
    // Every attacked sample keeps the attack's candidate (the breaking point, or the point of
    // highest loss), so the reported margin is the worst one found. A margin below zero is a broken
    // sample; argmax ties (margin exactly 0) count as unbroken, as argmax picks the lowest index.
    const torch::Tensor now_broken = margin < 0;
    outcome.adversarial.index_copy_(0, remaining, candidates.adversarial);
    outcome.margin.index_copy_(0, remaining, margin);
    outcome.broken_by.index_fill_(0, remaining.masked_select(now_broken), static_cast<int64_t>(k));
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
  const torch::Tensor correct = clean_logits(target, images).argmax(1).eq(labels);
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
