// The attack registry and the settings every attack shares.
#include <torch/types.h>

#include <algorithm>
#include <cmath>

#include "core/attack/attack.hpp"
#include "core/error.hpp"

namespace robustscope {

// One line per attack: its definition lives in core/attack/methods/<name>.cpp.
#define ROBUSTSCOPE_ATTACKS(X) \
  X(fgsm)                      \
  X(bim)                       \
  X(pgd)                       \
  X(apgd_ce)                   \
  X(apgd_dlr)                  \
  X(apgd_t)                    \
  X(cw_l2)                     \
  X(square)                    \
  X(fab_t)

#define ROBUSTSCOPE_DECLARE_ATTACK(name) AttackDefinition name##_attack();
ROBUSTSCOPE_ATTACKS(ROBUSTSCOPE_DECLARE_ATTACK)
#undef ROBUSTSCOPE_DECLARE_ATTACK

namespace {
std::vector<AttackDefinition>& registered_attacks() {
#define ROBUSTSCOPE_LIST_ATTACK(name) name##_attack(),
  static std::vector<AttackDefinition> attacks = {ROBUSTSCOPE_ATTACKS(ROBUSTSCOPE_LIST_ATTACK)};
#undef ROBUSTSCOPE_LIST_ATTACK
  return attacks;
}
}  // namespace

const std::vector<AttackDefinition>& attack_registry() { return registered_attacks(); }

void register_attack(AttackDefinition definition) {
  for (const AttackDefinition& attack : registered_attacks())
    if (attack.name == definition.name)
      throw Error("attack", "\"" + definition.name + "\" is registered already");
  if (!definition.cost || !definition.craft)
    throw Error("attack", "\"" + definition.name + "\" has no cost or craft function");
  definition.defaults.name = definition.name;
  registered_attacks().push_back(std::move(definition));
}

const EnumNames<AttackFamily>& attack_family_names() {
  static const EnumNames<AttackFamily> kNames(
      {{AttackFamily::kWhiteBoxReference, "white-box-reference"},
       {AttackFamily::kWhiteBox, "white-box"},
       {AttackFamily::kSingleStep, "single-step"},
       {AttackFamily::kBlackBox, "black-box"}});
  return kNames;
}

std::vector<std::string> ensemble_presets() { return {"standard"}; }

std::vector<AttackConfig> ensemble_preset(const std::string& name) {
  if (name != "standard")
    throw Error::for_key("preset",
                         "\"" + name + "\" is unknown (known: " + join(ensemble_presets()) + ")");
  AttackConfig apgd_ce = make_attack_config("apgd-ce"), apgd_t = make_attack_config("apgd-t"),
               fab_t = make_attack_config("fab-t"), square = make_attack_config("square");
  apgd_ce.steps = apgd_t.steps = fab_t.steps = 100;
  apgd_t.target_classes = fab_t.target_classes = 9;
  square.queries = 5000;
  return {apgd_ce, apgd_t, fab_t, square};
}

double AttackConfig::effective_step_size() const {
  return step_size > 0 ? step_size : 2.5 * epsilon / static_cast<double>(steps);
}

const SettingTable<AttackConfig>& attack_settings() {
  static const SettingTable<AttackConfig> kTable = [] {
    SettingTable<AttackConfig> table;
    table.choice("norm", &AttackConfig::norm, norm_names(), "threat model norm")
        .number("epsilon", &AttackConfig::epsilon, "radius ε of the ball")
        .integer("steps", &AttackConfig::steps, "iterations")
        .number("step_size", &AttackConfig::step_size, "step size α (0: 2.5·ε/steps)")
        .integer("restarts", &AttackConfig::restarts, "random restarts (each on what is unbroken)")
        .choice("loss", &AttackConfig::loss, loss_names(), "objective")
        .choice("random_start", &AttackConfig::random_start, random_start_names(), "first iterate")
        .seed("seed", &AttackConfig::seed, "random-start seed")
        .integer("target_classes", &AttackConfig::target_classes,
                 "most likely other classes attacked")
        .number("rho", &AttackConfig::rho, "APGD checkpoint threshold ρ")
        .number("confidence", &AttackConfig::confidence, "CW margin κ")
        .integer("binary_search_steps", &AttackConfig::binary_search_steps,
                 "CW binary-search rounds on c")
        .number("initial_const", &AttackConfig::initial_const, "CW c at the start")
        .number("learning_rate", &AttackConfig::learning_rate, "CW Adam step")
        .integer("queries", &AttackConfig::queries, "Square: forward passes per sample")
        .number("p_init", &AttackConfig::p_init, "Square: initial fraction of pixels changed")
        .number("alpha_max", &AttackConfig::alpha_max, "FAB: largest extrapolation weight")
        .number("eta", &AttackConfig::eta, "FAB: overshoot")
        .number("beta", &AttackConfig::beta, "FAB: backward step");
    return table;
  }();
  return kTable;
}

const AttackDefinition& find_attack(const std::string& name) {
  for (const AttackDefinition& attack : attack_registry())
    if (attack.name == name) return attack;
  throw Error::unknown_key("attack", name, join(known_attacks()));
}

std::vector<std::string> known_attacks() {
  std::vector<std::string> names;
  for (const AttackDefinition& attack : attack_registry()) names.push_back(attack.name);
  return names;
}

AttackConfig make_attack_config(const std::string& name) { return find_attack(name).defaults; }

bool attack_reads(const std::string& name, const std::string& key) {
  const auto& keys = find_attack(name).keys;
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

void set_attack_setting(AttackConfig& config, const std::string& key, const std::string& text) {
  const AttackDefinition& attack = find_attack(config.name);
  if (!attack_settings().find(key))
    throw Error::unknown_key("attack setting", key, join(attack_settings().keys()));
  if (!attack_reads(config.name, key))
    throw Error(
        Location::of_key(key, Location::Subject::kKeyName),
        config.name + " does not use \"" + key + "\" (its settings: " + join(attack.keys) + ")");
  attack_settings().set(config, "attack setting", key, text);
}

void validate_attack(const AttackConfig& config) {
  const AttackDefinition& attack = find_attack(config.name);
  const auto reads = [&](const char* key) { return attack_reads(config.name, key); };
  if (std::find(attack.norms.begin(), attack.norms.end(), config.norm) == attack.norms.end()) {
    std::vector<std::string> norms;
    for (Norm norm : attack.norms) norms.push_back(norm_names().name(norm));
    throw Error::for_key("norm", config.name + " supports " + join(norms) + ", not " +
                                     norm_names().name(config.norm));
  }
  if (!(config.epsilon >= 0) || !std::isfinite(config.epsilon))
    throw Error::for_key("epsilon",
                         "must be a finite number >= 0, got " + format_number(config.epsilon));
  const auto at_least = [](const char* key, int64_t value, int64_t minimum, int64_t maximum) {
    if (value < minimum || value > maximum)
      throw Error::for_key(key, "must be in " + std::to_string(minimum) + ".." +
                                    std::to_string(maximum) + ", got " + std::to_string(value));
  };
  if (reads("steps")) at_least("steps", config.steps, 1, 1000000);
  if (reads("restarts")) at_least("restarts", config.restarts, 1, 10000);
  if (reads("target_classes")) at_least("target_classes", config.target_classes, 1, 100000);
  if (reads("binary_search_steps"))
    at_least("binary_search_steps", config.binary_search_steps, 1, 1000);
  if (reads("queries")) at_least("queries", config.queries, 1, 100000000);
  if (reads("step_size") && (!(config.step_size >= 0) || !std::isfinite(config.step_size)))
    throw Error::for_key(
        "step_size", "must be >= 0 (0: 2.5·epsilon/steps), got " + format_number(config.step_size));
  if (reads("loss") && config.loss == Loss::kDlrTargeted)
    throw Error::for_key("loss", "dlr-targeted is apgd-t's own loss");
  if (reads("rho") && !(config.rho > 0 && config.rho < 1))
    throw Error::for_key("rho", "must be in (0, 1), got " + format_number(config.rho));
  if (attack.check) attack.check(config);
}

void validate_attack_for_data(const AttackConfig& config, int64_t input_dims, int64_t classes) {
  validate_attack(config);
  check_epsilon(config.norm, config.epsilon, input_dims, "epsilon");
  if (attack_reads(config.name, "target_classes") && config.target_classes > classes - 1)
    throw Error::for_key("target_classes", std::to_string(config.target_classes) +
                                               " is more than the " + std::to_string(classes - 1) +
                                               " other classes of the data set");
}

PassCount attack_cost(const AttackConfig& config) { return find_attack(config.name).cost(config); }

SettingEntries attack_entries(const AttackConfig& config) {
  const AttackDefinition& attack = find_attack(config.name);
  SettingEntries entries = attack.constants;
  entries["name"] = config.name;
  for (const std::string& key : attack.keys) {
    entries[key] = key == "step_size" ? SettingValue(config.effective_step_size())
                                      : attack_settings().value(config, key);
  }
  return entries;
}

std::string attack_label(const AttackConfig& config) {
  std::vector<std::string> parts;
  for (const auto& [key, value] : attack_entries(config))
    if (key != "name") parts.push_back(key + "=" + setting_text(value));
  return config.name + "(" + join(parts, " ") + ")";
}

std::string attack_short_label(const AttackConfig& config) {
  std::string label = config.name;
  if (attack_reads(config.name, "steps")) label += "-" + std::to_string(config.steps);
  if (attack_reads(config.name, "restarts") && config.restarts > 1)
    label += "×" + std::to_string(config.restarts);
  return label;
}

std::string attack_registry_markdown() {
  std::string text =
      "| attack | family | reference | what it does | norms | settings (defaults) |\n";
  text += "|---|---|---|---|---|---|\n";
  for (const AttackDefinition& attack : attack_registry()) {
    std::vector<std::string> norms, settings;
    for (Norm norm : attack.norms) norms.push_back(norm_names().name(norm));
    for (const std::string& key : attack.keys) {
      const SettingValue value = key == "step_size" && attack.defaults.step_size == 0
                                     ? SettingValue(std::string("2.5·ε/steps"))
                                     : attack_settings().value(attack.defaults, key);
      settings.push_back("`" + key + "` " + setting_text(value));
    }
    text += "| `" + attack.name + "` | " + attack_family_names().name(attack.family) + " | " +
            attack.citation + " | " + attack.summary + " | " + join(norms) + " | " +
            join(settings) + " |\n";
  }
  return text;
}

}  // namespace robustscope
