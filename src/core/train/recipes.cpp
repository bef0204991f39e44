// Training recipes as objectives of the one training loop.
#include "core/train/recipes.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <memory>

#include "core/attack/ascent.hpp"
#include "core/attack/objectives.hpp"
#include "core/error.hpp"
#include "core/metric/robustness_metric.hpp"
#include "core/runtime/device.hpp"
#include "core/settings_text.hpp"

namespace robustscope {

std::vector<std::string> known_recipes() {
  return {"natural", "fgsm", "pgd", "trades", "input-gradient", "distillation", "alp"};
}

bool RecipeConfig::is_key(const std::string& key) const {
  static const std::vector<std::string> keys = {"recipe", "epsilon", "steps",       "step_size",
                                                "beta",   "lambda",  "temperature", "pairing"};
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

void RecipeConfig::set(const std::string& key, const std::string& value) {
  if (key == "recipe")
    name = value;
  else if (key == "epsilon")
    epsilon = parse_number(key, value);
  else if (key == "steps")
    steps = parse_integer(key, value);
  else if (key == "step_size")
    step_size = parse_number(key, value);
  else if (key == "beta")
    beta = parse_number(key, value);
  else if (key == "lambda")
    lambda = parse_number(key, value);
  else if (key == "temperature")
    temperature = parse_number(key, value);
  else if (key == "pairing")
    pairing = parse_number(key, value);
  else
    throw Error("recipe setting", "\"" + key +
                                      "\" is unknown (known: recipe, epsilon, steps, step_size, "
                                      "beta, lambda, temperature, pairing)");
}

void RecipeConfig::validate() const {
  const std::vector<std::string> known = known_recipes();
  if (std::find(known.begin(), known.end(), name) == known.end()) {
    std::string list;
    for (const auto& item : known) list += (list.empty() ? "" : ", ") + item;
    throw Error("recipe", "\"" + name + "\" is unknown (known: " + list + ")");
  }
  if (!(epsilon > 0)) throw Error("epsilon", "must be positive");
  if (steps <= 0) throw Error("steps", "must be positive");
  if (step_size < 0) throw Error("step_size", "must be >= 0 (0: 2.5·ε/steps)");
  if (!(beta >= 0)) throw Error("beta", "must be >= 0");
  if (!(lambda >= 0)) throw Error("lambda", "must be >= 0");
  if (!(temperature > 0)) throw Error("temperature", "must be positive");
  if (!(pairing >= 0)) throw Error("pairing", "must be >= 0");
}

std::map<std::string, std::string> RecipeConfig::to_entries() const {
  std::map<std::string, std::string> entries = {{"name", name}};
  const double step = step_size > 0 ? step_size : 2.5 * epsilon / static_cast<double>(steps);
  if (name == "fgsm") entries["epsilon"] = format_number(epsilon);
  if (name == "pgd" || name == "trades" || name == "alp") {
    entries["epsilon"] = format_number(epsilon);
    entries["steps"] = std::to_string(steps);
    entries["step_size"] = format_number(step);
  }
  if (name == "trades") entries["beta"] = format_number(beta);
  if (name == "input-gradient") entries["lambda"] = format_number(lambda);
  if (name == "distillation") entries["temperature"] = format_number(temperature);
  if (name == "alp") entries["pairing"] = format_number(pairing);
  return entries;
}

namespace {

// Crafting sees the model in eval mode (the ascent loop sets it); training resumes afterwards.
torch::Tensor pgd_examples(Classifier& model, const Batch& batch, const RecipeConfig& recipe,
                           uint64_t seed) {
  ThreatModel threat{Norm::kLinf, recipe.epsilon};
  FixedStep rule(recipe.step_size > 0 ? recipe.step_size
                                      : 2.5 * recipe.epsilon / static_cast<double>(recipe.steps));
  AscentSettings settings;
  settings.steps = recipe.steps;
  settings.start = RandomStart::kUniform;
  settings.seed = seed;
  Targets targets;
  targets.labels = batch.labels;
  const AscentResult result = run_ascent(model, batch.images, targets, batch.sample_ids,
                                         make_attack_objective("ce"), threat, rule, settings);
  model.set_training(true);
  return result.best_x.detach();
}

torch::Tensor fgsm_examples(Classifier& model, const Batch& batch, double epsilon) {
  model.set_training(false);
  torch::Tensor input = batch.images.detach().requires_grad_(true);
  const torch::Tensor loss = torch::cross_entropy_loss(model.forward(input), batch.labels);
  const torch::Tensor gradient = torch::autograd::grad({loss}, {input})[0];
  model.set_training(true);
  return (batch.images + epsilon * gradient.sign()).clamp(0, 1).detach();
}

torch::Tensor trades_examples(Classifier& model, const Batch& batch, const RecipeConfig& recipe,
                              uint64_t seed) {
  MetricConfig inner;  // the metric's ascent with TRADES' choices: raw KL, a small Gaussian start
  inner.divergence = "kl";
  inner.normalization = "none";
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
  if (recipe.name == "natural" || recipe.name == "distillation") return natural_objective();
  if (recipe.name == "fgsm") {
    return [recipe](Classifier& model, const Batch& batch) {
      const torch::Tensor adversarial = fgsm_examples(model, batch, recipe.epsilon);
      const torch::Tensor logits = model.forward(batch.images);
      const torch::Tensor loss =
          0.5 * torch::cross_entropy_loss(logits, batch.labels) +
          0.5 * torch::cross_entropy_loss(model.forward(adversarial), batch.labels);
      return BatchLoss{loss, logits.detach()};
    };
  }
  if (recipe.name == "pgd") {
    return [recipe, next_seed](Classifier& model, const Batch& batch) {
      const torch::Tensor adversarial = pgd_examples(model, batch, recipe, next_seed());
      const torch::Tensor logits = model.forward(adversarial);
      return BatchLoss{torch::cross_entropy_loss(logits, batch.labels), logits.detach()};
    };
  }
  if (recipe.name == "trades") {
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
  if (recipe.name == "input-gradient") {
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
  if (recipe.name != "distillation") {
    train_classifier(model, data, config, make_recipe_objective(recipe, config.seed), device,
                     [&](const EpochReport& report) { on_epoch(recipe.name, report); });
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
