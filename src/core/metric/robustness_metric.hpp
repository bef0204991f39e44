// The robustness metric (Yu et al. 2019, as read in docs/methods.md §2): per sample,
//   ψ(x) = max_{x' ∈ B_ε(x) ∩ [0,1]^d} D(p̃(x) ‖ p̃(x')),
// the largest prediction divergence reachable in the ε-ball, found by projected steepest ascent on
// D with the clean prediction fixed, from a random start (D and its gradient vanish at δ = 0),
// keeping the per-sample maximum over steps and restarts. Lower ψ = more robust.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/attack/threat_model.hpp"
#include "core/metric/divergence.hpp"
#include "core/models/classifier.hpp"
#include "core/settings.hpp"

namespace robustscope {

// How the ascent steps: the paper's fixed signed-gradient step, or APGD's schedule (Croce & Hein
// 2020: step 2ε halved on stagnation, momentum, restarts from the best point), which keeps climbing
// where a fixed step stalls or oscillates, so ψ, a maximum, is less an artefact of the budget.
enum class AscentSchedule { kFixed, kApgd };
const EnumNames<AscentSchedule>& ascent_schedule_names();  // fixed | apgd

struct MetricConfig {
  Divergence divergence = Divergence::kKl;
  Normalization normalization = Normalization::kStandardize;
  double tau = 0;  // l2 normalisation scale; 0: √K
  Norm norm = Norm::kLinf;
  double epsilon = 0.3;
  int64_t steps = 20;
  AscentSchedule schedule = AscentSchedule::kFixed;
  double step_size = 0;  // 0: 2.5·ε/steps (fixed schedule only)
  int64_t restarts = 1;
  RandomStart random_start =
      RandomStart::kGaussian;  // gaussian (scale·N(0,I)) | uniform | boundary
  double start_scale = 0.001;
  uint64_t seed = 0;
  bool record_trace = false;

  // Sets a setting by its spec/CLI name; Error naming the key on an unknown key or a bad value.
  void set(const std::string& key, const std::string& value);
  void validate() const;
  double effective_step_size() const;
  // Every setting with its effective value (record_trace, which changes no number, left out).
  SettingEntries entries() const;
};

const SettingTable<MetricConfig>& metric_settings();

struct MetricResult {
  torch::Tensor value;        // ψ per sample [N]
  torch::Tensor clean_class;  // argmax at x [N]
  torch::Tensor worst_class;  // argmax at the maximiser [N]
  torch::Tensor best_step;    // step at which the maximum was reached [N]
  torch::Tensor maximiser;    // [N, ...]
  torch::Tensor trace;        // [N, restarts, steps + 1] when recorded
  int64_t forward_passes = 0;
  int64_t forward_backward_passes = 0;
};

MetricResult compute_metric(Classifier& model, const torch::Tensor& images,
                            const torch::Tensor& sample_ids, const MetricConfig& config);

// D(p̃(x) ‖ p̃(x')) for given points, no optimisation (tests, landscapes).
torch::Tensor prediction_divergence(Classifier& model, const torch::Tensor& clean,
                                    const torch::Tensor& perturbed, const MetricConfig& config);

struct MetricSummary {
  int64_t count = 0;
  double mean = 0, median = 0, stddev = 0;
  std::map<double, double> quantiles;  // at 0.05, 0.25, 0.75, 0.95
  double ci_low = 0, ci_high = 0;      // bootstrap percentile interval of the mean
  double confidence = 0.95;
  int64_t bootstrap_samples = 0;
};

// Per-model statistics of ψ; the bootstrap resamples with a generator seeded by `seed`.
MetricSummary summarize_metric(const torch::Tensor& values, int64_t bootstrap_samples = 1000,
                               double confidence = 0.95, uint64_t seed = 0);

}  // namespace robustscope
