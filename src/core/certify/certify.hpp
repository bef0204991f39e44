// The other side of the metric: a certified upper bound on ψ (the largest divergence in the ball),
// so every sample gets a bracket [ψ found by ascent, ψ certified above], and the certified robust
// accuracy next to the attacks' robust accuracy. docs/metric.md derives the bound:
//
// With c the clean class and d_j = z'_j − z'_c bounded by bound propagation, L_j ≤ d_j ≤ U_j (0 for
// j = c), every logit difference is bounded: z'_j − z'_i = d_j − d_i ≤ B_ji = U_j − L_i. Then, with
// p the clean prediction and q the perturbed one,
//   KL(p ‖ q) = Σ_i p_i log p_i − Σ_i p_i log q_i,   −log q_i = log Σ_j exp(ñ_j − ñ_i),
// and ñ_j − ñ_i, the normalised logit difference, is at most
//   none:         B_ji
//   standardize:  B_ji / (s_min + 1e-12) when B_ji ≥ 0, B_ji / (s_max + 1e-12) when B_ji < 0,
//                 s the standard deviation of z' over classes, s² = Σ_{a,b} (z'_a − z'_b)² / (2K²),
//                 bounded below and above through the intervals of every z'_a − z'_b
// (monotone in each term, so the bound is sound); and, whatever the logits, ñ_j − ñ_i ≤ √(2K)
// (standardised logits have Σ ñ² ≤ K; Cauchy–Schwarz), so the bound is finite even where s_min is
// 0. No
// bound is implemented for the l2 normalisation or for divergences other than KL: those are
// refused.
//
// A sample is certified when it is classified correctly and U_j < 0 for every j ≠ c.
#pragma once

#include <torch/types.h>

#include <cstdint>

#include "core/certify/bounds.hpp"
#include "core/metric/divergence.hpp"
#include "core/models/classifier.hpp"
#include "core/settings.hpp"

namespace robustscope {

struct CertifyConfig {
  BoundMethod method = BoundMethod::kCrown;
  Norm norm = Norm::kLinf;
  double epsilon = 0.3;
  Divergence divergence = Divergence::kKl;
  Normalization normalization = Normalization::kStandardize;
  int64_t chunk_size = 32;  // samples bounded at once (CROWN's memory grows with it)

  void set(const std::string& key, const std::string& value);  // spec and CLI names
  void validate() const;
  SettingEntries entries() const;
};

struct CertifyResult {
  torch::Tensor psi_upper;         // [N] certified ψ ≥ the true maximum
  torch::Tensor certified;         // [N] bool: correct and no class can overtake c in the ball
  torch::Tensor margin_lower;      // [N] lower bound of z_c − max_{j≠c} z_j over the ball
  torch::Tensor clean_class;       // [N]
  double forward_equivalents = 0;  // per sample, summed: the cost in forward passes
};

// Forward-pass equivalents per sample: the clean forward, two IBP boxes and, for CROWN, a backward
// pass (about two forward passes) for each of the 2K specification rows.
double certify_cost(const CertifyConfig& config, int64_t num_classes);

CertifyResult certify(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                      const CertifyConfig& config);

// The KL bound above from difference bounds (exposed for tests): clean logits [N, K], lower and
// upper bounds of z'_j − z'_c [N, K] (0 at the clean class c).
torch::Tensor kl_upper_bound(const torch::Tensor& clean_logits, const torch::Tensor& lower,
                             const torch::Tensor& upper, Normalization normalization);

}  // namespace robustscope
