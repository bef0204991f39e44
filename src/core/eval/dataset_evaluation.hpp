// Attacks and the metric over a whole data set, batch by batch: per-sample results, passes and
// time.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "core/attack/attacks.hpp"
#include "core/data/dataset.hpp"
#include "core/metric/robustness_metric.hpp"

namespace robustscope {

struct AttackEvaluation {
  torch::Tensor broken;             // [N] bool (CPU)
  torch::Tensor perturbation_norm;  // [N]
  torch::Tensor margin;             // [N]
  torch::Tensor broken_by;          // [N] int64
  torch::Tensor clean_correct;      // [N] bool
  int64_t forward_passes = 0;
  int64_t forward_backward_passes = 0;
  double seconds = 0;

  double robust_accuracy() const;
};

// One attack (a single config), the worst-case ensemble (several), or, with a substitute, the
// transfer of the first config crafted on the substitute.
AttackEvaluation evaluate_attacks(Classifier& model, const Dataset& data,
                                  const std::vector<AttackConfig>& attacks, int64_t batch_size,
                                  torch::Device device, Classifier* substitute = nullptr);

struct MetricEvaluation {
  torch::Tensor value, clean_class, worst_class, best_step;  // [N] (CPU)
  int64_t forward_passes = 0;
  int64_t forward_backward_passes = 0;
  double seconds = 0;
};

MetricEvaluation evaluate_metric(Classifier& model, const Dataset& data, const MetricConfig& config,
                                 int64_t batch_size, torch::Device device);

}  // namespace robustscope
