// Gradient-masking checks over the per-setting numbers of a results file.
#include "engine/store/masking_alarms.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <tuple>

#include "core/data/dataset.hpp"
#include "engine/store/result_summary.hpp"
#include "engine/store/schema.hpp"

namespace robustscope {
namespace {

constexpr const char* kBlackBoxStronger = "black-box-stronger";
constexpr const char* kNoCollapse = "no-collapse-at-large-epsilon";
constexpr const char* kRisesWithEpsilon = "accuracy-rises-with-epsilon";
constexpr const char* kNotConverged = "not-converged";
constexpr const char* kSingleStepStronger = "single-step-stronger";
constexpr const char* kCertifiedGap = "certified-gap";

// What the checks need of a setting that measures robust accuracy.
enum class Family {
  kWhiteBoxPgd,  // pgd, bim: the white-box reference a user runs first
  kSingleStep,   // fgsm
  kBlackBox,     // transfer, square: no gradient of the model attacked
  kEnsemble,
  kOtherWhiteBox  // apgd-*, cw-l2, fab-t
};

struct AttackPoint {
  Family family;
  std::string key, label;
  Norm norm;
  double epsilon;
  int64_t steps = 0, restarts = 0;
  // Every setting but ε, steps, restarts and a default step size: attacks equal in all of these
  // differ only in budget (b, c).
  std::string shape;
  double accuracy;
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

std::optional<AttackPoint> attack_point(const Procedure& procedure, const SettingSummary& setting) {
  const auto accuracy = setting.headline.find(schema::kRobustAccuracy);
  if (accuracy == setting.headline.end()) return std::nullopt;
  AttackPoint point{Family::kOtherWhiteBox, setting.procedure_key, "", Norm::kLinf, 0, 0, 0, "",
                    accuracy->second};
  if (const auto* attack = std::get_if<AttackProcedure>(&procedure.settings)) {
    const AttackConfig& config = attack->config;
    const std::string& name = config.name;
    point.family = name == "pgd" || name == "bim" ? Family::kWhiteBoxPgd
                   : name == "fgsm"               ? Family::kSingleStep
                   : name == "square"             ? Family::kBlackBox
                                                  : Family::kOtherWhiteBox;
    point.label =
        name + (name == "fgsm" || name == "square" || name == "cw-l2"
                    ? ""
                    : "-" + std::to_string(config.steps) +
                          (config.restarts > 1 ? "×" + std::to_string(config.restarts) : ""));
    point.norm = config.norm;
    point.epsilon = config.epsilon;
    point.steps = config.steps;
    point.restarts = config.restarts;
    point.shape = shape_of(config, false);
    return point;
  }
  if (const auto* transfer = std::get_if<TransferProcedure>(&procedure.settings)) {
    point.family = Family::kBlackBox;
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
      names.push_back(member.name);
    }
    point.family = Family::kEnsemble;
    point.label = "worst of " + join(names, "+");
    point.norm = first.norm;
    point.epsilon = first.epsilon;
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
    std::vector<const AttackPoint*> pgd, black_box, single_step;
    for (const AttackPoint* point : members) {
      if (point->family == Family::kWhiteBoxPgd) pgd.push_back(point);
      if (point->family == Family::kBlackBox || point->family == Family::kEnsemble)
        black_box.push_back(point);
      if (point->family == Family::kSingleStep) single_step.push_back(point);
    }
    const AttackPoint* reference = strongest(pgd);
    if (!reference) continue;
    const AttackPoint* other = strongest(black_box);
    if (other && reference->accuracy - other->accuracy > thresholds.black_box_gap) {
      add_alarm(alarms, model, kBlackBoxStronger,
                other->label + " leaves " + text(other->accuracy) + " robust accuracy at " +
                    eps_text(ball.first, ball.second) + " where the strongest white-box " +
                    reference->label + " leaves " + text(reference->accuracy),
                *reference, other, thresholds.black_box_gap);
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
      if (point.norm == norm && point.epsilon >= large && point.family != Family::kSingleStep &&
          point.family != Family::kBlackBox)
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

// (e) Per model and ball, the ascent's best ψ against the tightest certified ψ, per sample.
void check_certified_gap(const ExperimentSpec& spec, const StoredResults& results,
                         const AlarmThresholds& thresholds, std::vector<MaskingAlarm>& alarms) {
  struct Ball {
    std::string model, normalization;
    Norm norm;
    double epsilon;
    bool operator<(const Ball& other) const {
      return std::tie(model, normalization, norm, epsilon) <
             std::tie(other.model, other.normalization, other.norm, other.epsilon);
    }
  };
  std::map<Ball, PerSample> found, certified;
  std::map<Ball, std::pair<std::string, std::string>> keys;  // metric key, certify key
  for (const Task& task : plan_tasks(spec)) {
    const Procedure& procedure = spec.procedures[task.procedure];
    const auto* metric = std::get_if<MetricProcedure>(&procedure.settings);
    const auto* certify = std::get_if<CertifyProcedure>(&procedure.settings);
    if ((!metric && !certify) || (metric && metric->config.divergence != Divergence::kKl) ||
        (certify && certify->config.divergence != Divergence::kKl))
      continue;
    const auto stored = results.tasks.find(task.id);
    std::string why;
    if (stored == results.tasks.end() || !verify_task(stored->second, task, why)) continue;
    const Ball ball{spec.models[task.model].name,
                    normalization_names().name(metric ? metric->config.normalization
                                                      : certify->config.normalization),
                    metric ? metric->config.norm : certify->config.norm,
                    metric ? metric->config.epsilon : certify->config.epsilon};
    if (metric) {
      gather(stored->second, schema::kPsi, true, found[ball]);
      keys[ball].first = procedure.key();
    } else {
      gather(stored->second, schema::kPsiUpper, false, certified[ball]);
      keys[ball].second = procedure.key();
    }
  }
  for (const auto& [ball, bounds] : certified) {
    const auto ascent = found.find(ball);
    if (ascent == found.end()) continue;
    // A stalled sample: the bound leaves room for a divergence that matters, the ascent found
    // next to none (a saturated softmax: its gradient is zero in float32).
    int64_t eligible = 0, stalled = 0;
    std::vector<double> room;
    for (const auto& [id, upper] : bounds) {
      const auto value = ascent->second.find(id);
      if (value == ascent->second.end() || !std::isfinite(upper) ||
          upper <= thresholds.stalled_bound)
        continue;
      ++eligible;
      room.push_back(upper);
      if (value->second < thresholds.stalled_psi) ++stalled;
    }
    if (eligible == 0) continue;
    const double share = static_cast<double>(stalled) / static_cast<double>(eligible);
    if (share <= thresholds.stalled_share) continue;
    std::nth_element(room.begin(), room.begin() + room.size() / 2, room.end());
    char text[96];
    std::snprintf(text, sizeof(text), "%.0f%% of the %ld samples", 100 * share,
                  static_cast<long>(eligible));
    alarms.push_back({ball.model, kCertifiedGap,
                      "at " + eps_text(ball.norm, ball.epsilon) + " (" + ball.normalization +
                          ") the ascent's ψ stays below " + format_number(thresholds.stalled_psi) +
                          " on " + text + " whose certified bound exceeds " +
                          format_number(thresholds.stalled_bound) + " (median bound " +
                          format_number(std::round(room[room.size() / 2] * 1000) / 1000) +
                          "): its gradient does not move it",
                      keys[ball].first, keys[ball].second, share, room[room.size() / 2],
                      thresholds.stalled_share});
  }
}

}  // namespace

const std::vector<std::string>& masking_check_names() {
  static const std::vector<std::string> names = {kBlackBoxStronger,   kNoCollapse,
                                                 kRisesWithEpsilon,   kNotConverged,
                                                 kSingleStepStronger, kCertifiedGap};
  return names;
}

std::vector<MaskingAlarm> masking_alarms(const ExperimentSpec& spec, const StoredResults& results,
                                         const AlarmThresholds& thresholds) {
  const ResultsSummary summary = summarize_results(spec, results);
  std::map<std::string, const Procedure*> procedure_by_key;
  for (const Procedure& procedure : spec.procedures) procedure_by_key[procedure.key()] = &procedure;
  std::vector<MaskingAlarm> alarms;

  for (const ModelSpec& model : spec.models) {
    std::vector<AttackPoint> points;
    for (const SettingSummary& setting : summary.settings) {
      // Partial settings are left out: a shard's accuracy is not the setting's.
      if (setting.model != model.name || setting.completed != setting.tasks) continue;
      const auto point = attack_point(*procedure_by_key.at(setting.procedure_key), setting);
      if (point) points.push_back(*point);
    }
    check_attacks(model.name, dataset_info(model.dataset).shape.elements(), points, thresholds,
                  alarms);
  }

  check_certified_gap(spec, results, thresholds, alarms);
  return alarms;
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
