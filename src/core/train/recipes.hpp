// Training recipes: what a defended (or deliberately different) model is trained with. Each is a
// TrainingObjective for the one training loop; the adversarial ones craft their examples with the
// one ascent loop (PGD, FGSM) or the metric's (TRADES' inner maximisation of the KL divergence).
//
//   natural         cross-entropy on clean inputs (large/small-batch training: natural with another
//                   batch_size, Keskar et al. 2017)
//   fgsm            Goodfellow et al. 2015: ½·CE(x) + ½·CE(x + ε·sign ∇x CE)
//   pgd             Madry et al. 2018: CE at the PGD-`steps` maximiser (uniform random start)
//   trades          Zhang et al. 2019: CE(x) + β·KL(p(x) ‖ p(x')), x' maximising the KL in the ball
//   input-gradient  Ross & Doshi-Velez 2018 (double backpropagation): CE(x) + λ·‖∇x CE‖₂² per
//   sample distillation    Papernot et al. 2016: a teacher trained on softmax(z/T), a student
//   trained on the
//                   teacher's softmax(z/T) at the same T, deployed at T = 1 (its raw logits)
//   alp             Kannan et al. 2018: ½·CE(x) + ½·CE(x_pgd) + pairing·‖z(x) − z(x_pgd)‖₂² / K
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/settings.hpp"
#include "core/train/trainer.hpp"

namespace robustscope {

enum class Recipe { kNatural, kFgsm, kPgd, kTrades, kInputGradient, kDistillation, kAlp };
const EnumNames<Recipe>& recipe_names();
// True for the recipes that train against an attack (fgsm, pgd, trades, alp): defended models.
bool recipe_is_adversarial(Recipe recipe);

struct RecipeConfig {
  Recipe name = Recipe::kNatural;
  double epsilon = 0.3;      // fgsm, pgd, trades, alp: L∞ radius
  int64_t steps = 7;         // pgd, trades, alp: inner steps
  double step_size = 0;      // 0: 2.5·ε/steps
  double beta = 6;           // trades
  double lambda = 10;        // input-gradient
  double temperature = 100;  // distillation
  double pairing = 0.5;      // alp logit-pairing weight

  void set(const std::string& key, const std::string& value);  // Error on unknown key or value
  void validate() const;
  bool is_key(const std::string& key) const;
  // "name" and only the settings the recipe uses, as text (checkpoint metadata).
  std::map<std::string, std::string> to_entries() const;
  double effective_step_size() const { return step_size > 0 ? step_size : 2.5 * epsilon / steps; }
};

// The batch objective of a recipe (not distillation's, see train_with_recipe). `seed` seeds the
// random starts of the inner maximisation; each call draws new ones.
TrainingObjective make_recipe_objective(const RecipeConfig& recipe, uint64_t seed);

// Trains `model` by the recipe: for distillation, first a teacher of the same architecture at T,
// then `model` on its soft labels. Metadata gets recipe.* entries from the caller.
void train_with_recipe(
    BuiltinClassifier& model, const Dataset& data, const TrainConfig& config,
    const RecipeConfig& recipe, torch::Device device,
    const std::function<void(const std::string& stage, const EpochReport&)>& on_epoch);

}  // namespace robustscope
