// The robustness metric and its summary.
#include "core/metric/robustness_metric.hpp"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "core/attack/ascent.hpp"
#include "core/error.hpp"
#include "core/metric/divergence.hpp"
#include "core/settings_text.hpp"

namespace robustscope {
namespace {}  // namespace

void MetricConfig::set(const std::string& key, const std::string& value) {
  if (key == "divergence")
    divergence = value;
  else if (key == "normalization")
    normalization = value;
  else if (key == "tau")
    tau = parse_number(key, value);
  else if (key == "norm")
    norm = parse_norm(value);
  else if (key == "epsilon")
    epsilon = parse_number(key, value);
  else if (key == "steps")
    steps = static_cast<int64_t>(parse_number(key, value));
  else if (key == "step_size")
    step_size = parse_number(key, value);
  else if (key == "restarts")
    restarts = static_cast<int64_t>(parse_number(key, value));
  else if (key == "random_start")
    random_start = value;
  else if (key == "start_scale")
    start_scale = parse_number(key, value);
  else if (key == "seed")
    seed = static_cast<uint64_t>(parse_number(key, value));
  else if (key == "record_trace")
    record_trace = value == "true" || value == "1";
  else {
    throw Error("metric setting",
                "\"" + key +
                    "\" is unknown (known: divergence, normalization, "
                    "tau, norm, epsilon, steps, step_size, restarts, random_start, "
                    "start_scale, seed, record_trace)");
  }
}

void MetricConfig::validate() const {
  validate_divergence(divergence);
  validate_normalization(normalization);
  if (!(tau >= 0)) throw Error("tau", "must be >= 0 (0: sqrt of the class count)");
  if (!(epsilon > 0) || !std::isfinite(epsilon)) {
    throw Error("epsilon", "must be a finite number > 0, got " + format_number(epsilon));
  }
  if (steps < 1) throw Error("steps", "must be at least 1, got " + std::to_string(steps));
  if (!(step_size >= 0)) throw Error("step_size", "must be >= 0 (0: 2.5·epsilon/steps)");
  if (restarts < 1) throw Error("restarts", "must be at least 1, got " + std::to_string(restarts));
  if (parse_random_start(random_start) == RandomStart::kNone) {
    throw Error("random_start",
                "\"none\" cannot be used: the divergence and its gradient are "
                "exactly zero at the clean input (known: gaussian, uniform, boundary)");
  }
  if (!(start_scale > 0)) throw Error("start_scale", "must be positive");
}

double MetricConfig::effective_step_size() const {
  return step_size > 0 ? step_size : 2.5 * epsilon / static_cast<double>(steps);
}

std::map<std::string, std::string> MetricConfig::to_entries() const {
  return {{"divergence", divergence},
          {"normalization", normalization},
          {"tau", format_number(tau)},
          {"norm", norm_name(norm)},
          {"epsilon", format_number(epsilon)},
          {"steps", std::to_string(steps)},
          {"step_size", format_number(effective_step_size())},
          {"restarts", std::to_string(restarts)},
          {"random_start", random_start},
          {"start_scale", format_number(start_scale)},
          {"seed", std::to_string(seed)}};
}

MetricResult compute_metric(Classifier& model, const torch::Tensor& images,
                            const torch::Tensor& sample_ids, const MetricConfig& config) {
  config.validate();
  model.set_training(false);
  MetricResult result;
  Targets targets;
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor logits = model.forward(images);
    result.clean_class = logits.argmax(1);
    targets.labels = result.clean_class;  // "fooled" = the prediction changed
    targets.clean_log_probs = normalized_log_probs(logits, config.normalization, config.tau);
    result.forward_passes = images.size(0);
  }
  const Objective objective = [&config](const torch::Tensor& logits, const Targets& t) {
    return divergence(t.clean_log_probs,
                      normalized_log_probs(logits, config.normalization, config.tau),
                      config.divergence);
  };
  AscentSettings settings;
  settings.steps = config.steps;
  settings.restarts = config.restarts;
  settings.start = parse_random_start(config.random_start);
  settings.gaussian_scale = config.start_scale;
  settings.seed = config.seed;
  settings.record_trace = config.record_trace;
  FixedStep rule(config.effective_step_size());
  const AscentResult ascent = run_ascent(model, images, targets, sample_ids, objective,
                                         ThreatModel{config.norm, config.epsilon}, rule, settings);
  result.value = ascent.best_value;
  result.best_step = ascent.best_step;
  result.maximiser = ascent.best_x;
  result.trace = ascent.trace;
  result.worst_class = ascent.best_x_logits.argmax(1);
  result.forward_passes += ascent.forward_passes;
  result.forward_backward_passes = ascent.forward_backward_passes;
  return result;
}

torch::Tensor prediction_divergence(Classifier& model, const torch::Tensor& clean,
                                    const torch::Tensor& perturbed, const MetricConfig& config) {
  torch::NoGradGuard no_grad;
  model.set_training(false);
  return divergence(
      normalized_log_probs(model.forward(clean), config.normalization, config.tau),
      normalized_log_probs(model.forward(perturbed), config.normalization, config.tau),
      config.divergence);
}

MetricSummary summarize_metric(const torch::Tensor& values, int64_t bootstrap_samples,
                               double confidence, uint64_t seed) {
  MetricSummary summary;
  const torch::Tensor v = values.detach().to(torch::kCPU, torch::kFloat64).flatten();
  summary.count = v.numel();
  summary.confidence = confidence;
  summary.bootstrap_samples = bootstrap_samples;
  if (summary.count == 0) throw Error("metric summary", "no values to summarise");
  summary.mean = v.mean().item<double>();
  summary.stddev = summary.count > 1 ? v.std().item<double>() : 0.0;
  summary.median = torch::quantile(v, 0.5).item<double>();
  for (double q : {0.05, 0.25, 0.75, 0.95})
    summary.quantiles[q] = torch::quantile(v, q).item<double>();
  auto generator = at::detail::createCPUGenerator(seed);
  const torch::Tensor draws = torch::randint(0, summary.count, {bootstrap_samples, summary.count},
                                             generator, torch::kInt64);
  const torch::Tensor means = v.index({draws}).mean(1);
  const double tail = (1.0 - confidence) / 2.0;
  summary.ci_low = torch::quantile(means, tail).item<double>();
  summary.ci_high = torch::quantile(means, 1.0 - tail).item<double>();
  return summary;
}

}  // namespace robustscope
