// Gradient-masking checks over the per-setting numbers of a results file.
#include "engine/analysis/masking_alarms.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <tuple>

#include "core/data/dataset.hpp"
#include "engine/analysis/result_summary.hpp"
#include "engine/records/schema.hpp"

namespace robustscope {
namespace {

constexpr const char* kBlackBoxStronger = "black-box-stronger";
constexpr const char* kNoCollapse = "no-collapse-at-large-epsilon";
constexpr const char* kRisesWithEpsilon = "accuracy-rises-with-epsilon";
constexpr const char* kNotConverged = "not-converged";
constexpr const char* kSingleStepStronger = "single-step-stronger";
constexpr const char* kStalledAscent = "stalled-ascent";
constexpr const char* kReferenceWeaker = "reference-weaker";
constexpr const char* kCopyMissed = "missed-on-equivalent-copy";

// What the checks need of a setting that measures robust accuracy. Its role comes from the
// attack's own family (core/attack/attack.hpp), never from its name.
enum class Role {
  kReference,   // white-box-reference (pgd, bim): what a user runs first
  kSingleStep,  // fgsm
  kBlackBox,    // square, transfers: no gradient of the model attacked
  kEnsemble,    // judged by what its black-box members broke
  kWhiteBox     // apgd-*, cw-l2, fab-t
};

Role role_of(AttackFamily family) {
  switch (family) {
    case AttackFamily::kWhiteBoxReference:
      return Role::kReference;
    case AttackFamily::kSingleStep:
      return Role::kSingleStep;
    case AttackFamily::kBlackBox:
      return Role::kBlackBox;
    case AttackFamily::kWhiteBox:
      return Role::kWhiteBox;
  }
  return Role::kWhiteBox;
}

struct AttackPoint {
  Role role = Role::kWhiteBox;
  std::string key, label;
  Norm norm = Norm::kLinf;
  double epsilon = 0;
  int64_t steps = 0, restarts = 0;
  // Every setting but ε, steps, restarts and a default step size: attacks equal in all of these
  // differ only in budget (b, c).
  std::string shape;
  double accuracy = 0;
  // Ensembles: the share of samples its black-box members broke, and which members (black-box,
  // white-box) broke how many.
  double black_box_share = 0;
  std::string black_box_breakers, white_box_breakers;
};

std::string text(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.3f", value);
  return buffer;
}

std::string eps_text(Norm norm, double epsilon) {
  return norm_names().name(norm) + " ε=" + format_number(epsilon);
}

std::string shape_of(const AttackConfig& config, bool with_epsilon) {
  std::string shape;
  for (const auto& [key, value] : attack_entries(config)) {
    if (key == "steps" || key == "restarts" || key == "seed") continue;
    if (key == "epsilon" && !with_epsilon) continue;
    if (key == "step_size" && config.step_size == 0) continue;  // 2.5·ε/steps: follows the budget
    shape += key + "=" + setting_text(value) + ";";
  }
  return shape;
}

// Per ensemble setting key: how many samples each member broke, and how many there were.
struct MemberBreaks {
  std::vector<int64_t> broken;
  int64_t samples = 0;
};

std::map<std::string, MemberBreaks> member_breaks(const ExperimentSpec& spec,
                                                  const StoredResults& results) {
  std::map<std::string, MemberBreaks> breaks;
  for (const Task& task : plan_tasks(spec)) {
    const auto* ensemble =
        std::get_if<EnsembleProcedure>(&spec.procedures[task.procedure].settings);
    const auto stored = results.tasks.find(task.id);
    std::string why;
    if (!ensemble || stored == results.tasks.end() || !verify_task(stored->second, task, why))
      continue;
    MemberBreaks& into = breaks[task.setting_key];
    into.broken.resize(ensemble->members.size(), 0);
    const torch::Tensor by = stored->second.dataset(schema::kBrokenBy).to(torch::kInt64);
    for (size_t m = 0; m < ensemble->members.size(); ++m)
      into.broken[m] += by.eq(static_cast<int64_t>(m)).sum().item<int64_t>();
    into.samples += by.numel();
  }
  return breaks;
}

std::optional<AttackPoint> attack_point(const SettingSummary& setting,
                                        const std::map<std::string, MemberBreaks>& breaks) {
  const auto accuracy = setting.headline.find(schema::kRobustAccuracy);
  if (accuracy == setting.headline.end()) return std::nullopt;
  const Procedure& procedure = *setting.procedure;
  AttackPoint point;
  point.key = setting.procedure_key;
  point.accuracy = accuracy->second;
  if (const auto* attack = std::get_if<AttackProcedure>(&procedure.settings)) {
    const AttackConfig& config = attack->config;
    point.role = role_of(find_attack(config.name).family);
    point.label = attack_short_label(config);
    point.norm = config.norm;
    point.epsilon = config.epsilon;
    point.steps = config.steps;
    point.restarts = config.restarts;
    point.shape = shape_of(config, false);
    return point;
  }
  if (const auto* transfer = std::get_if<TransferProcedure>(&procedure.settings)) {
    point.role = Role::kBlackBox;
    point.label = "transfer of " + transfer->crafting.name + " from " + transfer->substitute;
    point.norm = transfer->crafting.norm;
    point.epsilon = transfer->crafting.epsilon;
    return point;
  }
  if (const auto* ensemble = std::get_if<EnsembleProcedure>(&procedure.settings)) {
    const AttackConfig& first = ensemble->members.front();
    std::vector<std::string> names;
    for (const AttackConfig& member : ensemble->members) {
      if (member.norm != first.norm || member.epsilon != first.epsilon) return std::nullopt;
      names.push_back(attack_short_label(member));
    }
    point.role = Role::kEnsemble;
    point.label = "worst of " + join(names, "+");
    point.norm = first.norm;
    point.epsilon = first.epsilon;
    const auto found = breaks.find(setting.setting_key);
    if (found != breaks.end() && found->second.samples > 0) {
      std::vector<std::string> black_box, white_box;
      for (size_t m = 0; m < ensemble->members.size(); ++m) {
        if (found->second.broken[m] == 0) continue;
        const double share = static_cast<double>(found->second.broken[m]) /
                             static_cast<double>(found->second.samples);
        const bool black =
            role_of(find_attack(ensemble->members[m].name).family) == Role::kBlackBox;
        if (black) point.black_box_share += share;
        (black ? black_box : white_box).push_back(names[m] + " broke " + text(share));
      }
      point.black_box_breakers = join(black_box, ", ");
      point.white_box_breakers = join(white_box, ", ");
    }
    return point;
  }
  return std::nullopt;
}

// Per sample id: the best ψ the ascent found, or the tightest certified ψ, per model and ball.
using PerSample = std::map<int64_t, double>;

void gather(const Record& record, const char* values_name, bool keep_larger, PerSample& into) {
  const torch::Tensor ids = record.dataset(schema::kSampleIds).to(torch::kInt64).contiguous();
  const torch::Tensor values = record.dataset(values_name).to(torch::kFloat64).contiguous();
  for (int64_t i = 0; i < ids.numel(); ++i) {
    const int64_t id = ids.data_ptr<int64_t>()[i];
    const double value = values.data_ptr<double>()[i];
    auto [found, inserted] = into.emplace(id, value);
    if (!inserted)
      found->second = keep_larger ? std::max(found->second, value) : std::min(found->second, value);
  }
}

void add_alarm(std::vector<MaskingAlarm>& alarms, const std::string& model, const char* check,
               const std::string& evidence, const AttackPoint& setting,
               const AttackPoint* reference, double threshold) {
  alarms.push_back({model, check, evidence, setting.key, reference ? reference->key : "",
                    setting.accuracy, reference ? reference->accuracy : 0.0, threshold});
}

const AttackPoint* strongest(const std::vector<const AttackPoint*>& points) {  // lowest accuracy
  const AttackPoint* best = nullptr;
  for (const AttackPoint* point : points)
    if (!best || point->accuracy < best->accuracy) best = point;
  return best;
}

void check_attacks(const std::string& model, int64_t input_dims,
                   const std::vector<AttackPoint>& points, const AlarmThresholds& thresholds,
                   std::vector<MaskingAlarm>& alarms) {
  // (a) and (d), per ball: the strongest PGD/BIM against black-box, ensemble and FGSM settings.
  std::map<std::pair<Norm, double>, std::vector<const AttackPoint*>> by_ball;
  for (const AttackPoint& point : points) by_ball[{point.norm, point.epsilon}].push_back(&point);
  for (const auto& [ball, members] : by_ball) {
    std::vector<const AttackPoint*> pgd, black_box, white_box, single_step;
    for (const AttackPoint* point : members) {
      if (point->role == Role::kReference) pgd.push_back(point);
      if (point->role == Role::kBlackBox) black_box.push_back(point);
      if (point->role == Role::kWhiteBox) white_box.push_back(point);
      // An ensemble is judged by who did the breaking: its black-box members (a), else its
      // white-box ones, which beat PGD when PGD's loss is the one misled (a').
      if (point->role == Role::kEnsemble)
        (point->black_box_share > thresholds.black_box_gap ? black_box : white_box)
            .push_back(point);
      if (point->role == Role::kSingleStep) single_step.push_back(point);
    }
    const AttackPoint* reference = strongest(pgd);
    if (!reference) continue;
    const AttackPoint* other = strongest(black_box);
    if (other && reference->accuracy - other->accuracy > thresholds.black_box_gap) {
      add_alarm(alarms, model, kBlackBoxStronger,
                other->label + " leaves " + text(other->accuracy) + " robust accuracy at " +
                    eps_text(ball.first, ball.second) + " where the strongest white-box " +
                    reference->label + " leaves " + text(reference->accuracy) +
                    (other->black_box_breakers.empty()
                         ? ""
                         : " (black-box members: " + other->black_box_breakers + ")"),
                *reference, other, thresholds.black_box_gap);
    }
    const AttackPoint* stronger = strongest(white_box);
    if (stronger && reference->accuracy - stronger->accuracy > thresholds.reference_gap) {
      add_alarm(
          alarms, model, kReferenceWeaker,
          stronger->label + " leaves " + text(stronger->accuracy) + " robust accuracy at " +
              eps_text(ball.first, ball.second) + " where the strongest " + reference->label +
              " leaves " + text(reference->accuracy) +
              (stronger->white_box_breakers.empty() ? ""
                                                    : " (" + stronger->white_box_breakers + ")") +
              ": the reference's loss is misled",
          *reference, stronger, thresholds.reference_gap);
    }
    const AttackPoint* fgsm = strongest(single_step);
    if (fgsm && reference->accuracy - fgsm->accuracy > thresholds.single_step_gap) {
      add_alarm(alarms, model, kSingleStepStronger,
                "single-step fgsm leaves " + text(fgsm->accuracy) + " at " +
                    eps_text(ball.first, ball.second) + ", less than iterative " +
                    reference->label + " (" + text(reference->accuracy) + ")",
                *reference, fgsm, thresholds.single_step_gap);
    }
  }

  // (b) Near the whole domain every classifier is fooled by a working attack.
  for (Norm norm : {Norm::kLinf, Norm::kL2}) {
    const double large =
        thresholds.large_epsilon_share * largest_meaningful_epsilon(norm, input_dims);
    std::vector<const AttackPoint*> at_large;
    for (const AttackPoint& point : points)
      // Single steps and transfers need not reach every point of a large ball; the others should.
      if (point.norm == norm && point.epsilon >= large && point.role != Role::kSingleStep &&
          point.role != Role::kBlackBox)
        at_large.push_back(&point);
    const AttackPoint* best = strongest(at_large);
    if (best && best->accuracy > thresholds.large_epsilon_accuracy) {
      add_alarm(alarms, model, kNoCollapse,
                best->label + " at " + eps_text(norm, best->epsilon) +
                    " (half the input domain or more) still leaves " + text(best->accuracy) +
                    " robust accuracy; a working attack leaves about none",
                *best, nullptr, thresholds.large_epsilon_accuracy);
    }
  }

  // (b) and (c), within attacks that differ only in budget.
  for (const AttackPoint& smaller : points) {
    if (smaller.shape.empty()) continue;
    for (const AttackPoint& larger : points) {
      if (&smaller == &larger || larger.shape != smaller.shape) continue;
      const bool same_effort = larger.steps == smaller.steps && larger.restarts == smaller.restarts;
      if (same_effort && larger.epsilon > smaller.epsilon &&
          larger.accuracy - smaller.accuracy > thresholds.epsilon_rise) {
        add_alarm(alarms, model, kRisesWithEpsilon,
                  larger.label + " leaves " + text(larger.accuracy) + " at " +
                      eps_text(larger.norm, larger.epsilon) + " but " + text(smaller.accuracy) +
                      " at the smaller " + eps_text(smaller.norm, smaller.epsilon),
                  larger, &smaller, thresholds.epsilon_rise);
      }
      const bool more_effort =
          larger.steps >= smaller.steps && larger.restarts >= smaller.restarts && !same_effort;
      if (more_effort && larger.epsilon == smaller.epsilon &&
          smaller.accuracy - larger.accuracy > thresholds.more_effort_gap) {
        add_alarm(alarms, model, kNotConverged,
                  larger.label + " leaves " + text(larger.accuracy) + " at " +
                      eps_text(larger.norm, larger.epsilon) + " where " + smaller.label +
                      " leaves " + text(smaller.accuracy) + ": the attack had not converged",
                  smaller, &larger, thresholds.more_effort_gap);
      }
    }
  }
}

// Per-sample outcomes of completed tasks, by (model, procedure) index: sample id → value.
struct PerSampleOutcomes {
  std::map<std::pair<size_t, size_t>, PerSample> broken;  // 1 broken, 0 not (attack-like settings)
  std::map<std::pair<size_t, size_t>, PerSample> psi;     // the ascent's ψ (KL metric settings)
};

PerSampleOutcomes per_sample_outcomes(const ExperimentSpec& spec, const StoredResults& results) {
  PerSampleOutcomes outcomes;
  for (const Task& task : plan_tasks(spec)) {
    const auto stored = results.tasks.find(task.id);
    std::string why;
    if (stored == results.tasks.end() || !verify_task(stored->second, task, why)) continue;
    const Record& record = stored->second;
    const std::pair<size_t, size_t> at{task.model, task.procedure};
    if (record.datasets.count(schema::kBroken))
      gather(record, schema::kBroken, true, outcomes.broken[at]);
    const auto* metric = std::get_if<MetricProcedure>(&spec.procedures[task.procedure].settings);
    if (metric && metric->config.divergence == Divergence::kKl)
      gather(record, schema::kPsi, true, outcomes.psi[at]);
  }
  return outcomes;
}

// The ball an attack-like procedure works in, when it has one.
std::optional<std::pair<Norm, double>> ball_of(const Procedure& procedure) {
  if (const auto* attack = std::get_if<AttackProcedure>(&procedure.settings))
    return std::make_pair(attack->config.norm, attack->config.epsilon);
  if (const auto* transfer = std::get_if<TransferProcedure>(&procedure.settings))
    return std::make_pair(transfer->crafting.norm, transfer->crafting.epsilon);
  if (const auto* ensemble = std::get_if<EnsembleProcedure>(&procedure.settings))
    return std::make_pair(ensemble->members.front().norm, ensemble->members.front().epsilon);
  return std::nullopt;
}

// (e) Per metric setting: of the samples some attack broke in the same ball, the share whose ψ
// stays below stalled_psi. A flipped prediction (q_c < ½) is a point of the ball where
// KL(p‖q) ≥ 2·(p_c − ½)² (Pinsker): a confident sample there has a KL of tenths, not 10⁻⁶.
void check_stalled_ascent(const ExperimentSpec& spec, const PerSampleOutcomes& outcomes,
                          const AlarmThresholds& thresholds, std::vector<MaskingAlarm>& alarms) {
  for (const auto& [at, psi] : outcomes.psi) {
    const auto& metric = std::get<MetricProcedure>(spec.procedures[at.second].settings).config;
    std::map<int64_t, std::vector<size_t>> breakers;  // sample → the procedures that broke it
    for (const auto& [other, broken] : outcomes.broken) {
      const auto ball = ball_of(spec.procedures[other.second]);
      if (other.first != at.first || !ball || ball->first != metric.norm ||
          ball->second != metric.epsilon)
        continue;
      for (const auto& [id, value] : broken)
        if (value > 0) breakers[id].push_back(other.second);
    }
    int64_t eligible = 0, stalled = 0;
    std::map<size_t, int64_t> stalled_by;  // procedure → stalled samples it broke
    for (const auto& [id, procedures] : breakers) {
      const auto value = psi.find(id);
      if (value == psi.end()) continue;
      ++eligible;
      if (value->second >= thresholds.stalled_psi) continue;
      ++stalled;
      for (size_t procedure : procedures) ++stalled_by[procedure];
    }
    if (eligible == 0) continue;
    const double share = static_cast<double>(stalled) / static_cast<double>(eligible);
    if (share <= thresholds.stalled_share) continue;
    size_t most = stalled_by.begin()->first;
    for (const auto& [procedure, count] : stalled_by)
      if (count > stalled_by[most]) most = procedure;
    char counts[96];
    std::snprintf(counts, sizeof(counts), "%.0f%% of the %ld samples", 100 * share,
                  static_cast<long>(eligible));
    const Procedure& metric_procedure = spec.procedures[at.second];
    alarms.push_back({spec.models[at.first].name, kStalledAscent,
                      metric_procedure.label() + ": ψ stays below " +
                          format_number(thresholds.stalled_psi) + " on " + counts +
                          " an attack broke in the same ball (" + spec.procedures[most].label() +
                          " broke most of them), where a flipped prediction has a KL of about "
                          "2·(p_c − ½)²: the ascent's gradient does not move it",
                      metric_procedure.key(), spec.procedures[most].key(), share,
                      static_cast<double>(eligible), thresholds.stalled_share});
  }
}

// (f) A copy made by `reparameterize:` predicts as its base everywhere, so a sample an attack broke
// on one of the two has an adversarial example for the other: the samples broken on one and not on
// the other are ones the attack missed there (checked both ways: deploying a distilled model at
// its temperature unmasks it, and then the base is the one that misses).
void check_missed_samples(const ExperimentSpec& spec, size_t model, size_t other,
                          const std::string& relation, const PerSampleOutcomes& outcomes,
                          const AlarmThresholds& thresholds, std::vector<MaskingAlarm>& alarms) {
  for (const auto& [at, on_model] : outcomes.broken) {
    if (at.first != model) continue;
    const auto on_other = outcomes.broken.find({other, at.second});
    if (on_other == outcomes.broken.end()) continue;
    int64_t common = 0, missed = 0, broken_here = 0, broken_there = 0;
    for (const auto& [id, broken] : on_model) {
      const auto there = on_other->second.find(id);
      if (there == on_other->second.end()) continue;
      ++common;
      broken_here += broken > 0;
      broken_there += there->second > 0;
      missed += there->second > 0 && broken == 0;
    }
    if (common == 0) continue;
    const double n = static_cast<double>(common);
    const double share = static_cast<double>(missed) / n;
    if (share <= thresholds.copy_missed) continue;
    const Procedure& procedure = spec.procedures[at.second];
    const std::string& name = spec.models[other].name;
    alarms.push_back(
        {spec.models[model].name, kCopyMissed,
         procedure.label() + " leaves " + text(1 - static_cast<double>(broken_here) / n) +
             " robust accuracy here and " + text(1 - static_cast<double>(broken_there) / n) +
             " on " + relation + " " + name +
             ", which predicts as this model does everywhere: it "
             "missed " +
             std::to_string(missed) + " of the " + std::to_string(common) +
             " samples it broke on " + name,
         procedure.key(), procedure.key(), share, static_cast<double>(broken_there) / n,
         thresholds.copy_missed});
  }
}

void check_equivalent_copies(const ExperimentSpec& spec, const PerSampleOutcomes& outcomes,
                             const AlarmThresholds& thresholds, std::vector<MaskingAlarm>& alarms) {
  for (size_t copy = 0; copy < spec.models.size(); ++copy) {
    const ModelSpec* base = spec.base_of(spec.models[copy]);
    if (!base) continue;
    const size_t base_index = static_cast<size_t>(base - spec.models.data());
    check_missed_samples(spec, copy, base_index, "its base", outcomes, thresholds, alarms);
    check_missed_samples(spec, base_index, copy, "its copy", outcomes, thresholds, alarms);
  }
}

}  // namespace

const std::vector<std::string>& masking_check_names() {
  static const std::vector<std::string> names = {
      kBlackBoxStronger, kReferenceWeaker,    kNoCollapse,    kRisesWithEpsilon,
      kNotConverged,     kSingleStepStronger, kStalledAscent, kCopyMissed};
  return names;
}

std::vector<MaskingAlarm> masking_alarms(const ExperimentSpec& spec, const StoredResults& results,
                                         const AlarmThresholds& thresholds) {
  const ResultsSummary summary = summarize_results(spec, results);
  const std::map<std::string, MemberBreaks> breaks = member_breaks(spec, results);
  std::vector<MaskingAlarm> alarms;

  for (const ModelSpec& model : spec.models) {
    std::vector<AttackPoint> points;
    for (const SettingSummary& setting : summary.settings) {
      // Partial settings are left out: a shard's accuracy is not the setting's.
      if (setting.model != model.name || setting.completed != setting.tasks) continue;
      const auto point = attack_point(setting, breaks);
      if (point) points.push_back(*point);
    }
    check_attacks(model.name, dataset_info(model.dataset).shape.elements(), points, thresholds,
                  alarms);
  }

  const PerSampleOutcomes outcomes = per_sample_outcomes(spec, results);
  check_stalled_ascent(spec, outcomes, thresholds, alarms);
  check_equivalent_copies(spec, outcomes, thresholds, alarms);
  return alarms;
}

Record alarms_of(const ExperimentSpec& spec, const StoredResults& completed) {
  return alarms_record(masking_alarms(spec, completed));
}

Record alarms_record(const std::vector<MaskingAlarm>& alarms) {
  Record record;
  for (size_t i = 0; i < alarms.size(); ++i) {
    const MaskingAlarm& alarm = alarms[i];
    const std::string path = std::to_string(i);
    record.set(schema::kModel, alarm.model, path);
    record.set(schema::kCheck, alarm.check, path);
    record.set(schema::kEvidence, alarm.evidence, path);
    record.set(schema::kSetting, alarm.setting, path);
    record.set(schema::kReferenceSetting, alarm.reference, path);
    record.set(schema::kValue, alarm.value, path);
    record.set(schema::kReferenceValue, alarm.reference_value, path);
    record.set(schema::kThreshold, alarm.threshold, path);
  }
  return record;
}

std::vector<MaskingAlarm> alarms_from_record(const Record& record) {
  std::vector<MaskingAlarm> alarms;
  for (size_t i = 0; record.attributes.count(std::to_string(i)); ++i) {
    const std::string path = std::to_string(i);
    alarms.push_back(
        {record.text(schema::kModel, path), record.text(schema::kCheck, path),
         record.text(schema::kEvidence, path), record.text(schema::kSetting, path),
         record.text(schema::kReferenceSetting, path), record.number(schema::kValue, path),
         record.number(schema::kReferenceValue, path), record.number(schema::kThreshold, path)});
  }
  return alarms;
}

}  // namespace robustscope
