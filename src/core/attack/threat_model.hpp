// The threat model of every attack and of the metric: an L∞ or L2 ball of radius ε around the clean
// input, intersected with the [0,1] pixel box; its projection, steepest-ascent direction and random
// starts.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>

#include "core/settings.hpp"

namespace robustscope {

enum class Norm { kLinf, kL2 };
const EnumNames<Norm>& norm_names();  // linf | l2

struct ThreatModel {
  Norm norm = Norm::kLinf;
  double epsilon = 0.3;

  // Projects `perturbed` onto {x' : ||x' - clean|| <= ε} ∩ [0,1]^d, per sample. For L∞ this is
  // exact (the intersection is a box); for L2 the radial projection is followed by clipping, which
  // only shortens the perturbation, so the result is feasible.
  torch::Tensor project(const torch::Tensor& perturbed, const torch::Tensor& clean) const;

  // The unit steepest-ascent direction for this norm: sign(g) for L∞, g/||g||₂ for L2.
  torch::Tensor ascent_direction(const torch::Tensor& gradient) const;

  // Per-sample norm of the perturbation in this threat model's norm: [N].
  torch::Tensor distance(const torch::Tensor& perturbed, const torch::Tensor& clean) const;
};

// The largest ε that means anything for inputs in [0,1]^d: 1 for L∞ (the whole box), √d for L2
// (the box's largest distance from any of its points is at most √d).
double largest_meaningful_epsilon(Norm norm, int64_t input_dims);
// Error naming `key` when ε is negative, not finite, or beyond largest_meaningful_epsilon.
void check_epsilon(Norm norm, double epsilon, int64_t input_dims, const std::string& key);

// Random starts, drawn per sample from its own generator seeded by (seed, sample id, restart), so a
// sample's start does not depend on the batch or the MPI rank it lands in.
enum class RandomStart {
  kNone,      // start at the clean input
  kUniform,   // uniform in the ball (L2: uniform direction, radius ε·U^(1/d))
  kGaussian,  // scale·N(0, I), then projected (the metric's default: a tiny start)
  kBoundary,  // on the sphere: L∞ ε·t/max|t| with t ~ U(-1,1); L2 ε·t/||t||₂ with t ~ N(0,I) (APGD)
};
const EnumNames<RandomStart>& random_start_names();  // none | uniform | gaussian | boundary

torch::Tensor random_start(const ThreatModel& threat, RandomStart kind, double gaussian_scale,
                           const torch::Tensor& clean, const torch::Tensor& sample_ids,
                           uint64_t seed, int64_t restart);

// [N] values viewed as [N, 1, 1, …] to broadcast against a batch shaped like `like`.
torch::Tensor per_sample_view(const torch::Tensor& values, const torch::Tensor& like);

// The per-sample seed of (seed, sample id, stream): a SplitMix64 mix, so nearby ids give unrelated
// streams.
uint64_t sample_seed(uint64_t seed, int64_t sample_id, int64_t stream);

}  // namespace robustscope
