// Input-space surfaces around a sample (docs/methods.md §1): the cross-entropy loss, the decision
// surface S = z_t − max_{j≠t} z_j (zero at the decision boundary), the probability margin, the
// divergence to the clean prediction and the predicted class, on the plane
//   f(α, β) = F(clip(x0 + α·d1 + β·d2))
// spanned by an adversarial direction d1 and a random direction d2 (orthogonal to d1, of d1's L2
// norm), as 1-D cuts along each direction and as a 2-D grid. Loss visualisation in input space
// follows Goodfellow et al. 2015 and Yu et al. 2019.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/attack/attack.hpp"
#include "core/metric/robustness_metric.hpp"
#include "core/models/classifier.hpp"
#include "core/settings.hpp"

namespace robustscope {

// d1: sign (sign ∇x L, L∞-scaled: α is an L∞ distance) | gradient (∇x L / ‖∇x L‖₂) |
//     pgd (δ/‖δ‖∞ towards the PGD maximiser) | metric (δ/‖δ‖∞ towards the metric's maximiser)
enum class AdversarialDirection { kSign, kGradient, kPgd, kMetric };
const EnumNames<AdversarialDirection>& adversarial_direction_names();
enum class RandomDirection { kRademacher, kGaussian };
const EnumNames<RandomDirection>& random_direction_names();
// uniform: the cuts and the grid at their resolutions, nothing more.
// adaptive: the same points, then more where the decision surface S changes sign, until each
//   crossing is bracketed within boundary_tolerance·range: bisection on the cuts, quadtree cells on
//   the grid (a crossing that enters and leaves a coarse cell between its corners is not seen).
enum class LandscapeSampling { kUniform, kAdaptive };
const EnumNames<LandscapeSampling>& landscape_sampling_names();

struct LandscapeConfig {
  AdversarialDirection adversarial_direction = AdversarialDirection::kSign;
  Loss direction_loss = Loss::kCrossEntropy;  // sign/gradient directions: of ce | margin
  RandomDirection random_direction = RandomDirection::kRademacher;
  double epsilon = 0.3;         // the reference radius: PGD/metric directions, derived numbers
  double range = 0;             // the cuts and the grid span [−range, range]; 0: 3·epsilon
  int64_t resolution_1d = 101;  // odd, so the centre is x0
  int64_t resolution_2d = 51;   // odd
  LandscapeSampling sampling = LandscapeSampling::kUniform;
  double boundary_tolerance = 1e-3;  // adaptive: bracket width at S = 0, as a fraction of range
  bool clip = true;                  // clip points to [0,1]
  int64_t chunk_size = 1024;         // points per forward pass: the memory cap
  uint64_t seed = 0;
  AttackConfig pgd = make_attack_config("pgd");  // adversarial_direction pgd (ε from `epsilon`)
  MetricConfig metric;  // the divergence surface's settings (and the metric direction's)

  // Keys as in docs/landscapes.md; "pgd.<key>" and "metric.<key>" reach the nested settings.
  void set(const std::string& key, const std::string& value);
  void validate() const;
  double effective_range() const { return range > 0 ? range : 3 * epsilon; }
  // Every setting with its effective value; pgd.* only for the pgd direction; sampling and
  // boundary_tolerance only when adaptive (so the keys, hence the seeds, of uniform settings stay).
  SettingEntries entries() const;
};

// The quantities on every point, in this order in LandscapeResult tensors.
const std::vector<std::string>&
landscape_quantities();  // cross_entropy, decision, probability_margin,
                         // divergence, predicted_class

struct Directions {
  torch::Tensor adversarial;  // d1, shaped like one sample
  torch::Tensor random;       // d2
};

// d1 and d2 for one sample x0 [1, C, H, W] with label t. Seeded per sample: (seed, sample_id).
Directions landscape_directions(Classifier& model, const torch::Tensor& x0, int64_t label,
                                int64_t sample_id, const LandscapeConfig& config);

struct LandscapeResult {
  torch::Tensor coordinates_1d;  // [n1] the uniform α values of the cuts
  // Each cut's sampling points, increasing: coordinates_1d, plus the refinement when adaptive.
  torch::Tensor coordinates_adversarial, coordinates_random;  // [m1], [m2]
  torch::Tensor cut_adversarial;  // [Q, m1] along d1 at coordinates_adversarial
  torch::Tensor cut_random;       // [Q, m2] along d2 at coordinates_random
  torch::Tensor coordinates_2d;   // [n2] α (and β) values of the grid
  torch::Tensor grid;             // [Q, n2, n2]: grid[q][i][j] at x0 + α_i·d1 + β_j·d2
  // Adaptive: the points added to the grid near S = 0 ([R, 2] as (α, β)) and their values [Q, R];
  // R = 0 when uniform.
  torch::Tensor refined_points, refined_grid;
  bool adaptive = false;  // sampling was adaptive
  Directions directions;
  // Derived numbers: distance along +d1, −d1, +d2, −d2 to the first zero of S (linear interpolation
  // between grid points; +inf when S keeps its sign within the range).
  double boundary_adversarial_positive = 0, boundary_adversarial_negative = 0;
  double boundary_random_positive = 0, boundary_random_negative = 0;
  double correct_fraction_within_epsilon = 0;  // grid points with √(α²+β²) ≤ ε still correct
  double mean_abs_slope = 0;  // mean |dS/dα| over both cuts within |α| ≤ ε (finite differences)
  int64_t forward_passes = 0, forward_backward_passes = 0;
};

// Evaluates the cuts and the grid for one sample, in chunks of config.chunk_size points.
LandscapeResult compute_landscape(Classifier& model, const torch::Tensor& x0, int64_t label,
                                  int64_t sample_id, const LandscapeConfig& config);

// The quantities at explicit points (one row per point) for clean input x0 with label t: [Q, P].
torch::Tensor landscape_quantities_at(Classifier& model, const torch::Tensor& x0, int64_t label,
                                      const torch::Tensor& points, const LandscapeConfig& config);

// First zero crossing of `values` (sampled at `coordinates`, increasing, one of them 0) going
// outward from the coordinate 0 towards larger (direction = +1) or smaller (−1) coordinates,
// interpolated linearly between the two points around it; +inf if none.
double first_zero_distance(const torch::Tensor& coordinates, const torch::Tensor& values,
                           int direction);

}  // namespace robustscope
