// Attacks and the metric over a data set.
#include "core/eval/dataset_evaluation.hpp"

#include <torch/torch.h>

#include <chrono>

namespace robustscope {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

torch::Tensor concatenate(std::vector<torch::Tensor>& parts) {
  return parts.empty() ? torch::Tensor() : torch::cat(parts);
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
  std::vector<torch::Tensor> broken, norms, margins, broken_by;
  const Batches batches(data, batch_size, device);
  for (int64_t b = 0; b < batches.count(); ++b) {
    const Batch batch = batches[b];
    const AttackOutcome outcome =
        substitute ? run_transfer_attack(model, *substitute, batch.images, batch.labels,
                                         batch.sample_ids, attacks.front())
                   : run_ensemble(model, batch.images, batch.labels, batch.sample_ids, attacks);
    broken.push_back(outcome.broken.cpu());
    norms.push_back(outcome.perturbation_norm.cpu());
    margins.push_back(outcome.margin.cpu());
    broken_by.push_back(outcome.broken_by.cpu());
    result.forward_passes += outcome.forward_passes;
    result.forward_backward_passes += outcome.forward_backward_passes;
  }
  result.broken = concatenate(broken);
  result.perturbation_norm = concatenate(norms);
  result.margin = concatenate(margins);
  result.broken_by = concatenate(broken_by);
  result.seconds = seconds_since(start);
  return result;
}

MetricEvaluation evaluate_metric(Classifier& model, const Dataset& data, const MetricConfig& config,
                                 int64_t batch_size, torch::Device device) {
  config.validate();
  const auto start = std::chrono::steady_clock::now();
  MetricEvaluation result;
  std::vector<torch::Tensor> values, clean, worst, steps;
  const Batches batches(data, batch_size, device);
  for (int64_t b = 0; b < batches.count(); ++b) {
    const Batch batch = batches[b];
    const MetricResult metric = compute_metric(model, batch.images, batch.sample_ids, config);
    values.push_back(metric.value.cpu());
    clean.push_back(metric.clean_class.cpu());
    worst.push_back(metric.worst_class.cpu());
    steps.push_back(metric.best_step.cpu());
    result.forward_passes += metric.forward_passes;
    result.forward_backward_passes += metric.forward_backward_passes;
  }
  result.value = concatenate(values);
  result.clean_class = concatenate(clean);
  result.worst_class = concatenate(worst);
  result.best_step = concatenate(steps);
  result.seconds = seconds_since(start);
  return result;
}

}  // namespace robustscope
