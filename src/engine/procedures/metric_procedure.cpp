// The metric procedure: ψ per sample (core/metric) over a task's samples.
#include <torch/types.h>

#include "core/eval/dataset_evaluation.hpp"
#include "engine/procedures/procedures.hpp"
#include "engine/records/schema.hpp"

namespace robustscope {

SettingEntries MetricProcedure::entries() const {
  SettingEntries entries = config.entries();
  entries.erase("seed");  // the task's (or the procedure's explicit) seed takes its place
  return entries;
}

PassCount MetricProcedure::cost() const {
  return {1.0 + static_cast<double>(config.restarts),
          static_cast<double>(config.restarts * config.steps)};
}

void MetricProcedure::run(TaskContext& context, Record& record) const {
  MetricConfig seeded = config;
  seeded.seed = context.seed;
  const MetricEvaluation result =
      evaluate_metric(context.model, context.data, seeded, context.batch_size, context.device);
  record.datasets[schema::kPsi] = result.value;
  record.datasets[schema::kCleanClass] = result.clean_class;
  record.datasets[schema::kWorstClass] = result.worst_class;
  record.datasets[schema::kBestStep] = result.best_step;
  record.datasets[schema::kCleanCorrect] = result.clean_class.eq(context.data.labels);
  context.forward_passes += result.forward_passes;
  context.forward_backward_passes += result.forward_backward_passes;
}

Headline MetricProcedure::headline(const Record& record) {
  return {{schema::kPsiMean, mean_of(record.dataset(schema::kPsi))},
          {schema::kCleanAccuracy, mean_of(record.dataset(schema::kCleanCorrect))}};
}

std::vector<std::string> MetricProcedure::headline_names() {
  return {schema::kPsiMean, schema::kCleanAccuracy};
}

std::string MetricProcedure::label() const {
  const std::string normalization = config.normalization == Normalization::kNone
                                        ? "raw"
                                        : normalization_names().name(config.normalization);
  std::string text = "ψ " + normalization + " " + epsilon_text(config.norm, config.epsilon) +
                     " K=" + std::to_string(config.steps);
  if (config.restarts > 1) text += "×" + std::to_string(config.restarts);
  if (config.schedule != AscentSchedule::kFixed)
    text += " " + ascent_schedule_names().name(config.schedule);
  if (config.divergence != Divergence::kKl)
    text += " (" + divergence_names().name(config.divergence) + ")";
  return text;
}

std::string MetricProcedure::family() const { return kKind; }

std::vector<AttackConfig> MetricProcedure::data_checks() const {
  return {ball_check(config.norm, config.epsilon)};
}

}  // namespace robustscope
