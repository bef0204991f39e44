// An attack's settings (AttackConfig) and the registry of attacks: each entry holds its name, the
// settings it reads, its defaults, its checks, its cost in passes and the function that crafts the
// examples. The spec parser, `eval`, the cost estimate and the docs table all read the registry, so
// adding an attack is one file in core/attack/methods/ and one line in registry.cpp.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/attack/objectives.hpp"
#include "core/attack/threat_model.hpp"
#include "core/models/classifier.hpp"
#include "core/settings.hpp"

namespace robustscope {

// The union of every attack's settings; an attack reads only those its registry entry lists, and
// setting any other is an error. Build one with make_attack_config(name), which applies the
// attack's own defaults.
struct AttackConfig {
  std::string name = "pgd";
  Norm norm = Norm::kLinf;
  double epsilon = 0.3;
  int64_t steps = 40;
  double step_size = 0;  // 0: 2.5·ε/steps (Madry et al. 2018)
  int64_t restarts = 1;
  Loss loss = Loss::kCrossEntropy;
  RandomStart random_start = RandomStart::kUniform;
  uint64_t seed = 0;
  int64_t target_classes = 9;       // apgd-t, fab-t: the most likely other classes attacked
  double rho = 0.75;                // apgd: checkpoint threshold
  double confidence = 0;            // cw-l2: κ
  int64_t binary_search_steps = 5;  // cw-l2
  double initial_const = 1.0;       // cw-l2: c at the start of the search
  double learning_rate = 0.05;      // cw-l2: Adam step
  int64_t queries = 5000;           // square: forward passes per sample (its budget)
  double p_init = 0.8;              // square: initial fraction of pixels changed
  double alpha_max = 0.1;           // fab-t: largest extrapolation weight
  double eta = 1.05;                // fab-t: overshoot
  double beta = 0.9;                // fab-t: backward step

  double effective_step_size() const;
};

// Forward (F) and forward+backward (F+B) passes per sample.
struct PassCount {
  double forward = 0;
  double forward_backward = 0;
};

// What an attack returns on the samples it attacked (all classified correctly at x).
struct Crafted {
  torch::Tensor adversarial;  // inside the ball and the box
  torch::Tensor logits;       // the model's logits at `adversarial` when known, else undefined
  int64_t forward_passes = 0;
  int64_t forward_backward_passes = 0;
};

// What kind of evidence an attack gives, which the masking alarms (engine/analysis) judge by: a
// black-box attack never reads the model's gradient, so it must not beat the white-box reference.
enum class AttackFamily {
  kWhiteBoxReference,  // iterative sign-gradient (pgd, bim): the white-box baseline run first
  kWhiteBox,           // other gradient attacks (apgd-*, cw-l2, fab-t)
  kSingleStep,         // one gradient step (fgsm)
  kBlackBox            // no gradient of the model attacked (square; transfers)
};
const EnumNames<AttackFamily>& attack_family_names();  // white-box-reference | white-box | …

using CraftFunction = Crafted (*)(Classifier& model, const torch::Tensor& images,
                                  const torch::Tensor& labels, const torch::Tensor& sample_ids,
                                  const AttackConfig& config);

struct AttackDefinition {
  std::string name;
  AttackFamily family;
  std::string citation;                // "Madry et al. 2018"
  std::string summary;                 // one line for the docs table and --help
  std::vector<std::string> keys;       // settings this attack reads
  SettingEntries constants;            // fixed choices shown with the settings (apgd-ce: loss ce)
  std::vector<Norm> norms;             // norms it supports
  AttackConfig defaults;               // name and the attack's own defaults
  void (*check)(const AttackConfig&);  // attack-specific checks (Error naming the key), or null
  PassCount (*cost)(const AttackConfig&);
  CraftFunction craft;
};

const std::vector<AttackDefinition>& attack_registry();
// Adds an attack defined outside core/attack/methods (a plugin, a test's fake attack); Error
// when the name is taken. Call it before any spec is parsed.
void register_attack(AttackDefinition definition);
const AttackDefinition& find_attack(const std::string& name);  // Error listing the known names
std::vector<std::string> known_attacks();

// Every settable attack key, its parsing and typed value.
const SettingTable<AttackConfig>& attack_settings();

AttackConfig make_attack_config(const std::string& name);
// Sets `key` from text; Error when the key is unknown or the attack does not read it.
void set_attack_setting(AttackConfig& config, const std::string& key, const std::string& text);
// True when the attack reads `key` (ensembles apply shared keys to the members that read them).
bool attack_reads(const std::string& name, const std::string& key);
// Checks every setting the attack reads (Error naming the key).
void validate_attack(const AttackConfig& config);
// And against the data: ε within the input domain, target classes below the class count.
void validate_attack_for_data(const AttackConfig& config, int64_t input_dims, int64_t classes);
PassCount attack_cost(const AttackConfig& config);
// The attack's name and every setting it reads, with effective values (step_size resolved).
SettingEntries attack_entries(const AttackConfig& config);
// "pgd(epsilon=0.3 norm=linf steps=40 …)": a label without commas (CSV columns, tables).
std::string attack_label(const AttackConfig& config);
// "pgd-20", "pgd-20×5", "fgsm", "square": the name with its budget in steps and restarts when the
// attack reads them (tables, alarm evidence).
std::string attack_short_label(const AttackConfig& config);

// The members of a named ensemble with their budgets: "standard" is AutoAttack's standard version
// (Croce & Hein 2020): APGD-CE (100 steps), APGD-T (100 steps, 9 targets), FAB-T (100 steps, 9
// targets) and Square (5,000 queries). Error naming the known presets.
std::vector<AttackConfig> ensemble_preset(const std::string& name);
std::vector<std::string> ensemble_presets();

// The docs table of the registry (docs/attacks.md holds it; a test keeps the two equal).
std::string attack_registry_markdown();

}  // namespace robustscope
