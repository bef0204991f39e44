// The metric procedure: ψ per sample (core/metric) over a task's samples.
#include <torch/types.h>

#include "core/eval/dataset_evaluation.hpp"
#include "engine/procedures/procedures.hpp"
#include "engine/store/schema.hpp"

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

}  // namespace robustscope
