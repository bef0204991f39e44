// The attack, ensemble and transfer procedures: robust accuracy per sample (core/attack).
#include <torch/types.h>

#include <algorithm>
#include <cctype>

#include "core/eval/dataset_evaluation.hpp"
#include "engine/procedures/procedures.hpp"
#include "engine/records/schema.hpp"

namespace robustscope {
namespace {

SettingEntries without_seed(SettingEntries entries) {
  entries.erase("seed");
  return entries;
}

void store(const AttackEvaluation& result, TaskContext& context, Record& record,
           bool with_broken_by) {
  record.datasets[schema::kBroken] = result.broken;
  record.datasets[schema::kPerturbationNorm] = result.perturbation_norm;
  record.datasets[schema::kMargin] = result.margin;
  record.datasets[schema::kCleanCorrect] = result.clean_correct;
  if (with_broken_by) record.datasets[schema::kBrokenBy] = result.broken_by;
  context.forward_passes += result.forward_passes;
  context.forward_backward_passes += result.forward_backward_passes;
}

Headline attack_headline(const Record& record) {
  return {{schema::kRobustAccuracy, 1.0 - mean_of(record.dataset(schema::kBroken))},
          {schema::kCleanAccuracy, mean_of(record.dataset(schema::kCleanCorrect))}};
}

std::vector<std::string> attack_headline_names() {
  return {schema::kRobustAccuracy, schema::kCleanAccuracy};
}

// "PGD-20 ε=0.1", with α when the spec set the step size.
std::string attack_text(const AttackConfig& config) {
  std::string text = attack_short_label(config);
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  text += " " + epsilon_text(config.norm, config.epsilon);
  if (attack_reads(config.name, "step_size") && config.step_size > 0)
    text += " α=" + format_number(config.step_size);
  return text;
}

std::vector<AttackConfig> seeded(std::vector<AttackConfig> attacks, uint64_t seed) {
  for (AttackConfig& attack : attacks) attack.seed = seed;
  return attacks;
}

}  // namespace

SettingEntries AttackProcedure::entries() const { return without_seed(attack_entries(config)); }

PassCount AttackProcedure::cost() const { return attack_cost(config); }

void AttackProcedure::run(TaskContext& context, Record& record) const {
  store(evaluate_attacks(context.model, context.data, seeded({config}, context.seed),
                         context.batch_size, context.device),
        context, record, false);
}

Headline AttackProcedure::headline(const Record& record) { return attack_headline(record); }
std::vector<std::string> AttackProcedure::headline_names() { return attack_headline_names(); }
std::string AttackProcedure::label() const { return attack_text(config); }
std::string AttackProcedure::family() const {
  return attack_family_names().name(find_attack(config.name).family);
}
std::vector<AttackConfig> AttackProcedure::data_checks() const { return {config}; }

SettingEntries EnsembleProcedure::entries() const {
  SettingEntries entries;
  for (size_t m = 0; m < members.size(); ++m)
    for (const auto& [key, value] : without_seed(attack_entries(members[m])))
      entries[std::to_string(m + 1) + "." + key] = value;
  return entries;
}

PassCount EnsembleProcedure::cost() const {
  PassCount cost;
  for (const AttackConfig& member : members) {
    const PassCount passes = attack_cost(member);
    cost.forward += passes.forward;
    cost.forward_backward += passes.forward_backward;
  }
  return cost;
}

void EnsembleProcedure::run(TaskContext& context, Record& record) const {
  store(evaluate_attacks(context.model, context.data, seeded(members, context.seed),
                         context.batch_size, context.device),
        context, record, true);
}

Headline EnsembleProcedure::headline(const Record& record) { return attack_headline(record); }
std::vector<std::string> EnsembleProcedure::headline_names() { return attack_headline_names(); }
std::string EnsembleProcedure::label() const {
  std::vector<std::string> names;
  for (const AttackConfig& member : members) names.push_back(attack_short_label(member));
  const AttackConfig& first = members.front();
  return "worst of " + join(names, "+") + " " + epsilon_text(first.norm, first.epsilon);
}
// The worst case over members of any family: judged as a whole, and member by member through
// broken_by (engine/analysis/masking_alarms).
std::string EnsembleProcedure::family() const { return kKind; }
std::vector<AttackConfig> EnsembleProcedure::data_checks() const { return members; }

SettingEntries TransferProcedure::entries() const {
  SettingEntries entries = {{"substitute", substitute}};
  for (const auto& [key, value] : without_seed(attack_entries(crafting)))
    entries["crafting." + key] = value;
  return entries;
}

PassCount TransferProcedure::cost() const {
  const PassCount crafted = attack_cost(crafting);
  return {crafted.forward + 2, crafted.forward_backward};
}

void TransferProcedure::run(TaskContext& context, Record& record) const {
  Classifier& substitute_model = context.model_named(substitute);
  store(evaluate_attacks(context.model, context.data, seeded({crafting}, context.seed),
                         context.batch_size, context.device, &substitute_model),
        context, record, false);
}

Headline TransferProcedure::headline(const Record& record) { return attack_headline(record); }
std::vector<std::string> TransferProcedure::headline_names() { return attack_headline_names(); }
std::string TransferProcedure::label() const {
  return "transfer from " + substitute + ": " + attack_text(crafting);
}
// The model attacked gives no gradient: whatever crafted the examples, a transfer is black-box.
std::string TransferProcedure::family() const {
  return attack_family_names().name(AttackFamily::kBlackBox);
}
std::vector<AttackConfig> TransferProcedure::data_checks() const { return {crafting}; }

}  // namespace robustscope
