// Training recipes as objectives of the one training loop.
#include "core/train/recipes.hpp"

#include <torch/autograd.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <algorithm>
#include <memory>

#include "core/attack/attack_ascent.hpp"
#include "core/attack/objectives.hpp"
#include "core/error.hpp"
#include "core/metric/robustness_metric.hpp"
#include "core/runtime/device.hpp"

namespace robustscope {

const EnumNames<Recipe>& recipe_names() {
  static const EnumNames<Recipe> kNames({{Recipe::kNatural, "natural"},
                                         {Recipe::kFgsm, "fgsm"},
                                         {Recipe::kPgd, "pgd"},
                                         {Recipe::kTrades, "trades"},
                                         {Recipe::kInputGradient, "input-gradient"},
                                         {Recipe::kDistillation, "distillation"},
                                         {Recipe::kAlp, "alp"}});
  return kNames;
}

bool recipe_is_adversarial(Recipe recipe) {
  switch (recipe) {
    case Recipe::kFgsm:
    case Recipe::kPgd:
    case Recipe::kTrades:
    case Recipe::kAlp:
      return true;
    case Recipe::kNatural:
    case Recipe::kInputGradient:
    case Recipe::kDistillation:
      return false;
  }
  return false;
}

namespace {

const SettingTable<RecipeConfig>& recipe_settings() {
  static const SettingTable<RecipeConfig> kTable = [] {
    SettingTable<RecipeConfig> table;
    table.choice("recipe", &RecipeConfig::name, recipe_names(), "training recipe")
        .number("epsilon", &RecipeConfig::epsilon, "fgsm, pgd, trades, alp: L∞ radius")
        .integer("steps", &RecipeConfig::steps, "pgd, trades, alp: inner steps")
        .number("step_size", &RecipeConfig::step_size, "inner step (0: 2.5·ε/steps)")
        .number("beta", &RecipeConfig::beta, "trades: weight of the KL term")
        .number("lambda", &RecipeConfig::lambda, "input-gradient: weight of the penalty")
        .number("temperature", &RecipeConfig::temperature, "distillation: T")
        .number("pairing", &RecipeConfig::pairing, "alp: logit-pairing weight");
    return table;
  }();
  return kTable;
}

// The settings each recipe reads (besides its name).
std::vector<std::string> recipe_keys(Recipe recipe) {
  switch (recipe) {
    case Recipe::kFgsm:
      return {"epsilon"};
    case Recipe::kPgd:
      return {"epsilon", "steps", "step_size"};
    case Recipe::kTrades:
      return {"epsilon", "steps", "step_size", "beta"};
    case Recipe::kInputGradient:
      return {"lambda"};
    case Recipe::kDistillation:
      return {"temperature"};
    case Recipe::kAlp:
      return {"epsilon", "steps", "step_size", "pairing"};
    case Recipe::kNatural:
      break;
  }
  return {};
}

}  // namespace

bool RecipeConfig::is_key(const std::string& key) const {
  return recipe_settings().find(key) != nullptr;
}

void RecipeConfig::set(const std::string& key, const std::string& value) {
  recipe_settings().set(*this, "recipe setting", key, value);
}

void RecipeConfig::validate() const {
  if (!(epsilon > 0) || epsilon > 1) throw Error::for_key("epsilon", "must be in (0, 1]");
  if (steps <= 0 || steps > 100000) throw Error::for_key("steps", "must be in 1..100000");
  if (!(step_size >= 0)) throw Error::for_key("step_size", "must be >= 0 (0: 2.5·ε/steps)");
  if (!(beta >= 0)) throw Error::for_key("beta", "must be >= 0");
  if (!(lambda >= 0)) throw Error::for_key("lambda", "must be >= 0");
  if (!(temperature > 0)) throw Error::for_key("temperature", "must be positive");
  if (!(pairing >= 0)) throw Error::for_key("pairing", "must be >= 0");
}

std::map<std::string, std::string> RecipeConfig::to_entries() const {
  std::map<std::string, std::string> entries = {{"name", recipe_names().name(name)}};
  for (const std::string& key : recipe_keys(name)) {
    entries[key] = key == "step_size" ? format_number(effective_step_size())
                                      : setting_text(recipe_settings().value(*this, key));
  }
  return entries;
}

namespace {

// The recipe's inner attack as a registry config: L∞, ε, steps, step size, a uniform start.
AttackConfig inner_attack(const RecipeConfig& recipe, const std::string& name, uint64_t seed) {
  AttackConfig attack = make_attack_config(name);
  attack.epsilon = recipe.epsilon;
  attack.steps = recipe.steps;
  attack.step_size = recipe.effective_step_size();
  attack.random_start = RandomStart::kUniform;
  attack.seed = seed;
  return attack;
}

// Crafting sees the model in eval mode (the ascent loop sets it); training resumes afterwards.
torch::Tensor pgd_examples(Classifier& model, const Batch& batch, const RecipeConfig& recipe,
                           uint64_t seed) {
  const AscentResult result = fixed_step_ascent(model, batch.images, batch.labels, batch.sample_ids,
                                                inner_attack(recipe, "pgd", seed), false);
  model.set_training(true);
  return result.best_x.detach();
}

// FGSM-AT trains on x + ε·sign ∇x CE whether or not it fools the model: the final iterate.
torch::Tensor fgsm_examples(Classifier& model, const Batch& batch, const RecipeConfig& recipe) {
  const AscentResult result = fixed_step_ascent(model, batch.images, batch.labels, batch.sample_ids,
                                                inner_attack(recipe, "fgsm", 0), false);
  model.set_training(true);
  return result.last_x.detach();
}

torch::Tensor trades_examples(Classifier& model, const Batch& batch, const RecipeConfig& recipe,
                              uint64_t seed) {
  MetricConfig inner;  // the metric's ascent with TRADES' choices: raw KL, a small Gaussian start
  inner.divergence = Divergence::kKl;
  inner.normalization = Normalization::kNone;
  inner.epsilon = recipe.epsilon;
  inner.steps = recipe.steps;
  inner.step_size = recipe.step_size;
  inner.seed = seed;
  const MetricResult result = compute_metric(model, batch.images, batch.sample_ids, inner);
  model.set_training(true);
  return result.maximiser.detach();
}

}  // namespace

TrainingObjective make_recipe_objective(const RecipeConfig& recipe, uint64_t seed) {
  recipe.validate();
  // Each call draws new random starts: the call count enters the seed.
  auto calls = std::make_shared<uint64_t>(0);
  auto next_seed = [seed, calls] { return seed * 0x9E3779B97F4A7C15ULL + ++*calls; };
  if (recipe.name == Recipe::kNatural || recipe.name == Recipe::kDistillation)
    return natural_objective();
  if (recipe.name == Recipe::kFgsm) {
    return [recipe](Classifier& model, const Batch& batch) {
      const torch::Tensor adversarial = fgsm_examples(model, batch, recipe);
      const torch::Tensor logits = model.forward(batch.images);
      const torch::Tensor loss =
          0.5 * torch::cross_entropy_loss(logits, batch.labels) +
          0.5 * torch::cross_entropy_loss(model.forward(adversarial), batch.labels);
      return BatchLoss{loss, logits.detach()};
    };
  }
  if (recipe.name == Recipe::kPgd) {
    return [recipe, next_seed](Classifier& model, const Batch& batch) {
      const torch::Tensor adversarial = pgd_examples(model, batch, recipe, next_seed());
      const torch::Tensor logits = model.forward(adversarial);
      return BatchLoss{torch::cross_entropy_loss(logits, batch.labels), logits.detach()};
    };
  }
  if (recipe.name == Recipe::kTrades) {
    return [recipe, next_seed](Classifier& model, const Batch& batch) {
      const torch::Tensor adversarial = trades_examples(model, batch, recipe, next_seed());
      const torch::Tensor logits = model.forward(batch.images);
      const torch::Tensor adversarial_log_probs = torch::log_softmax(model.forward(adversarial), 1);
      const torch::Tensor clean_probs = torch::softmax(logits, 1);
      const torch::Tensor kl =
          torch::kl_div(adversarial_log_probs, clean_probs, at::Reduction::Sum) /
          static_cast<double>(batch.labels.size(0));
      return BatchLoss{torch::cross_entropy_loss(logits, batch.labels) + recipe.beta * kl,
                       logits.detach()};
    };
  }
  if (recipe.name == Recipe::kInputGradient) {
    return [recipe](Classifier& model, const Batch& batch) {
      torch::Tensor input = batch.images.detach().requires_grad_(true);
      const torch::Tensor logits = model.forward(input);
      // Per-sample cross-entropy summed, so each sample's input gradient is its own.
      const torch::Tensor per_sample =
          torch::cross_entropy_loss(logits, batch.labels, {}, at::Reduction::None);
      const torch::Tensor gradient =
          torch::autograd::grad({per_sample.sum()}, {input}, {}, true, true)[0];
      const torch::Tensor penalty = gradient.pow(2).flatten(1).sum(1).mean();
      return BatchLoss{per_sample.mean() + recipe.lambda * penalty, logits.detach()};
    };
  }
  // alp
  return [recipe, next_seed](Classifier& model, const Batch& batch) {
    const torch::Tensor adversarial = pgd_examples(model, batch, recipe, next_seed());
    const torch::Tensor logits = model.forward(batch.images);
    const torch::Tensor adversarial_logits = model.forward(adversarial);
    const torch::Tensor pairing =
        (logits - adversarial_logits).pow(2).sum(1).mean() / static_cast<double>(logits.size(1));
    const torch::Tensor loss = 0.5 * torch::cross_entropy_loss(logits, batch.labels) +
                               0.5 * torch::cross_entropy_loss(adversarial_logits, batch.labels) +
                               recipe.pairing * pairing;
    return BatchLoss{loss, logits.detach()};
  };
}

void train_with_recipe(
    BuiltinClassifier& model, const Dataset& data, const TrainConfig& config,
    const RecipeConfig& recipe, torch::Device device,
    const std::function<void(const std::string&, const EpochReport&)>& on_epoch) {
  recipe.validate();
  if (recipe.name != Recipe::kDistillation) {
    const std::string stage = recipe_names().name(recipe.name);
    train_classifier(model, data, config, make_recipe_objective(recipe, config.seed), device,
                     [&](const EpochReport& report) { on_epoch(stage, report); });
    return;
  }
  const double temperature = recipe.temperature;
  // The teacher: same architecture, trained on softmax(z/T). As in Papernot et al. the losses are
  // not rescaled: their gradients shrink with T, so distillation wants Adam (scale-free steps) or a
  // larger learning rate.
  seed_all(config.seed + 1);
  BuiltinClassifier teacher(model.config());
  const TrainingObjective soft = [temperature](Classifier& network, const Batch& batch) {
    const torch::Tensor logits = network.forward(batch.images);
    return BatchLoss{torch::cross_entropy_loss(logits / temperature, batch.labels),
                     logits.detach()};
  };
  train_classifier(teacher, data, config, soft, device,
                   [&](const EpochReport& report) { on_epoch("teacher", report); });
  // The student: cross-entropy against the teacher's soft labels at the same T.
  const TrainingObjective student = [temperature, &teacher](Classifier& network,
                                                            const Batch& batch) {
    torch::Tensor soft_labels;
    {
      torch::NoGradGuard no_grad;
      soft_labels = torch::softmax(teacher.forward(batch.images) / temperature, 1);
    }
    const torch::Tensor logits = network.forward(batch.images);
    const torch::Tensor loss =
        -(soft_labels * torch::log_softmax(logits / temperature, 1)).sum(1).mean();
    return BatchLoss{loss, logits.detach()};
  };
  train_classifier(model, data, config, student, device,
                   [&](const EpochReport& report) { on_epoch("student", report); });
}

}  // namespace robustscope
