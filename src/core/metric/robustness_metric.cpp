// The robustness metric and its summary.
#include "core/metric/robustness_metric.hpp"

#include <torch/types.h>
#include <torch/utils.h>

#include <cmath>
#include <memory>
#include <sstream>

#include "core/attack/ascent.hpp"
#include "core/error.hpp"
#include "core/metric/divergence.hpp"

namespace robustscope {
const EnumNames<AscentSchedule>& ascent_schedule_names() {
  static const EnumNames<AscentSchedule> kNames(
      {{AscentSchedule::kFixed, "fixed"}, {AscentSchedule::kApgd, "apgd"}});
  return kNames;
}

const SettingTable<MetricConfig>& metric_settings() {
  static const SettingTable<MetricConfig> kTable = [] {
    SettingTable<MetricConfig> table;
    table.choice("divergence", &MetricConfig::divergence, divergence_names(), "D")
        .choice("normalization", &MetricConfig::normalization, normalization_names(),
                "logit normalisation N")
        .number("tau", &MetricConfig::tau, "l2 normalisation scale (0: sqrt of the class count)")
        .choice("norm", &MetricConfig::norm, norm_names(), "threat model norm")
        .number("epsilon", &MetricConfig::epsilon, "radius ε of the ball")
        .integer("steps", &MetricConfig::steps, "ascent steps per restart")
        .choice("schedule", &MetricConfig::schedule, ascent_schedule_names(),
                "step rule: fixed (the paper's) or apgd (step halved on stagnation, momentum)")
        .number("step_size", &MetricConfig::step_size, "fixed schedule: step size (0: 2.5·ε/steps)")
        .integer("restarts", &MetricConfig::restarts, "restarts (the maximum over all is kept)")
        .choice("random_start", &MetricConfig::random_start, random_start_names(), "first iterate")
        .number("start_scale", &MetricConfig::start_scale, "gaussian start: its scale")
        .seed("seed", &MetricConfig::seed, "random-start seed")
        .flag("record_trace", &MetricConfig::record_trace, "keep ψ per step");
    return table;
  }();
  return kTable;
}

void MetricConfig::set(const std::string& key, const std::string& value) {
  metric_settings().set(*this, "metric setting", key, value);
}

void MetricConfig::validate() const {
  if (!(tau >= 0) || !std::isfinite(tau))
    throw Error::for_key("tau", "must be >= 0 (0: sqrt of the class count)");
  if (!(epsilon > 0) || !std::isfinite(epsilon)) {
    throw Error::for_key("epsilon", "must be a finite number > 0, got " + format_number(epsilon));
  }
  if (steps < 1 || steps > 1000000)
    throw Error::for_key("steps", "must be in 1..1000000, got " + std::to_string(steps));
  if (!(step_size >= 0) || !std::isfinite(step_size))
    throw Error::for_key("step_size", "must be >= 0 (0: 2.5·epsilon/steps)");
  if (schedule == AscentSchedule::kApgd && step_size > 0)
    throw Error::for_key("step_size",
                         "the apgd schedule sets its own step (2·epsilon, halved on stagnation): "
                         "give step_size with schedule: fixed only");
  if (restarts < 1 || restarts > 10000)
    throw Error::for_key("restarts", "must be in 1..10000, got " + std::to_string(restarts));
  if (random_start == RandomStart::kNone) {
    throw Error::for_key("random_start",
                         "\"none\" cannot be used: the divergence and its gradient are "
                         "exactly zero at the clean input (known: gaussian, uniform, boundary)");
  }
  if (!(start_scale > 0) || !std::isfinite(start_scale))
    throw Error::for_key("start_scale", "must be positive");
}

double MetricConfig::effective_step_size() const {
  return step_size > 0 ? step_size : 2.5 * epsilon / static_cast<double>(steps);
}

SettingEntries MetricConfig::entries() const {
  SettingEntries entries;
  for (const auto& entry : metric_settings().entries())
    if (entry.key != "record_trace") entries[entry.key] = entry.value(*this);
  // The step the fixed schedule takes; APGD's is its own (not a setting of it).
  if (schedule == AscentSchedule::kFixed)
    entries["step_size"] = effective_step_size();
  else
    entries.erase("step_size");
  return entries;
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
  settings.start = config.random_start;
  settings.gaussian_scale = config.start_scale;
  settings.seed = config.seed;
  settings.record_trace = config.record_trace;
  std::unique_ptr<StepRule> rule;
  if (config.schedule == AscentSchedule::kApgd)
    rule = std::make_unique<ApgdStep>();
  else
    rule = std::make_unique<FixedStep>(config.effective_step_size());
  const AscentResult ascent = run_ascent(model, images, targets, sample_ids, objective,
                                         ThreatModel{config.norm, config.epsilon}, *rule, settings);
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
