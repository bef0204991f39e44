// Attacks and the metric over a data set.
#include "core/eval/dataset_evaluation.hpp"

#include <torch/types.h>

#include <chrono>

namespace robustscope {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The one loop over a data set's batches: `evaluate` returns `count` per-sample columns for a
// batch; the columns of all batches are concatenated in data-set order, on the CPU.
template <typename Evaluate>
std::vector<torch::Tensor> per_sample_columns(const Dataset& data, int64_t batch_size,
                                              torch::Device device, size_t count,
                                              Evaluate evaluate) {
  std::vector<std::vector<torch::Tensor>> parts(count);
  const Batches batches(data, batch_size, device);
  for (int64_t b = 0; b < batches.count(); ++b) {
    const std::vector<torch::Tensor> columns = evaluate(batches[b]);
    for (size_t c = 0; c < count; ++c) parts[c].push_back(columns[c].cpu());
  }
  std::vector<torch::Tensor> columns(count);
  for (size_t c = 0; c < count; ++c) {
    if (!parts[c].empty()) columns[c] = torch::cat(parts[c]);
  }
  return columns;
}

}  // namespace

double AttackEvaluation::robust_accuracy() const {
  return broken.numel() == 0 ? 0.0 : 1.0 - broken.to(torch::kFloat64).mean().item<double>();
}

AttackEvaluation evaluate_attacks(Classifier& model, const Dataset& data,
                                  const std::vector<AttackConfig>& attacks, int64_t batch_size,
                                  torch::Device device, Classifier* substitute) {
  const auto start = std::chrono::steady_clock::now();
  AttackEvaluation result;
  const auto columns = per_sample_columns(data, batch_size, device, 5, [&](const Batch& batch) {
    const AttackOutcome outcome =
        substitute ? run_transfer_attack(model, *substitute, batch.images, batch.labels,
                                         batch.sample_ids, attacks.front())
                   : run_ensemble(model, batch.images, batch.labels, batch.sample_ids, attacks);
    result.forward_passes += outcome.forward_passes;
    result.forward_backward_passes += outcome.forward_backward_passes;
    return std::vector<torch::Tensor>{outcome.broken, outcome.perturbation_norm, outcome.margin,
                                      outcome.broken_by, outcome.clean_correct};
  });
  result.broken = columns[0];
  result.perturbation_norm = columns[1];
  result.margin = columns[2];
  result.broken_by = columns[3];
  result.clean_correct = columns[4];
  result.seconds = seconds_since(start);
  return result;
}

MetricEvaluation evaluate_metric(Classifier& model, const Dataset& data, const MetricConfig& config,
                                 int64_t batch_size, torch::Device device) {
  config.validate();
  check_epsilon(config.norm, config.epsilon, data.info.shape.elements(), "epsilon");
  const auto start = std::chrono::steady_clock::now();
  MetricEvaluation result;
  const auto columns = per_sample_columns(data, batch_size, device, 4, [&](const Batch& batch) {
    const MetricResult metric = compute_metric(model, batch.images, batch.sample_ids, config);
    result.forward_passes += metric.forward_passes;
    result.forward_backward_passes += metric.forward_backward_passes;
    return std::vector<torch::Tensor>{metric.value, metric.clean_class, metric.worst_class,
                                      metric.best_step};
  });
  result.value = columns[0];
  result.clean_class = columns[1];
  result.worst_class = columns[2];
  result.best_step = columns[3];
  result.seconds = seconds_since(start);
  return result;
}

}  // namespace robustscope
