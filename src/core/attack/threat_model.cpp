// Threat model: projection, ascent direction, random starts.
#include "core/attack/threat_model.hpp"

#include <torch/types.h>

#include <cmath>

#include "core/error.hpp"
#include "core/runtime/hashing.hpp"

namespace robustscope {
namespace {

constexpr double kTiny = 1e-12;  // guards divisions by a zero norm

torch::Tensor l2_norms(const torch::Tensor& x) { return x.flatten(1).norm(2, 1); }

}  // namespace

torch::Tensor per_sample_view(const torch::Tensor& values, const torch::Tensor& like) {
  std::vector<int64_t> shape(like.dim(), 1);
  shape[0] = like.size(0);
  return values.view(shape);
}

const EnumNames<Norm>& norm_names() {
  static const EnumNames<Norm> kNames({{Norm::kLinf, "linf"}, {Norm::kL2, "l2"}});
  return kNames;
}

double largest_meaningful_epsilon(Norm norm, int64_t input_dims) {
  return norm == Norm::kLinf ? 1.0 : std::sqrt(static_cast<double>(input_dims));
}

void check_epsilon(Norm norm, double epsilon, int64_t input_dims, const std::string& key) {
  const double largest = largest_meaningful_epsilon(norm, input_dims);
  if (!(epsilon >= 0) || !std::isfinite(epsilon))
    throw Error::for_key(key, "must be a finite number >= 0, got " + format_number(epsilon));
  if (epsilon > largest)
    throw Error::for_key(
        key, format_number(epsilon) + " is larger than any " + norm_names().name(norm) +
                 " distance between inputs in [0,1]^" + std::to_string(input_dims) + " (at most " +
                 format_number(largest) +
                 (norm == Norm::kLinf ? ": the whole pixel range)" : ": sqrt of the input size)"));
}

torch::Tensor ThreatModel::project(const torch::Tensor& perturbed,
                                   const torch::Tensor& clean) const {
  torch::Tensor delta = perturbed - clean;
  if (norm == Norm::kLinf) {
    delta = delta.clamp(-epsilon, epsilon);
  } else {
    const torch::Tensor scale = (epsilon / (l2_norms(delta) + kTiny)).clamp_max(1.0);
    delta = delta * per_sample_view(scale, delta);
  }
  return (clean + delta).clamp(0.0, 1.0);
}

torch::Tensor ThreatModel::ascent_direction(const torch::Tensor& gradient) const {
  if (norm == Norm::kLinf) return gradient.sign();
  return gradient / per_sample_view(l2_norms(gradient) + kTiny, gradient);
}

torch::Tensor ThreatModel::distance(const torch::Tensor& perturbed,
                                    const torch::Tensor& clean) const {
  const torch::Tensor delta = (perturbed - clean).flatten(1);
  return norm == Norm::kLinf ? delta.abs().amax(1) : delta.norm(2, 1);
}

const EnumNames<RandomStart>& random_start_names() {
  static const EnumNames<RandomStart> kNames({{RandomStart::kNone, "none"},
                                              {RandomStart::kUniform, "uniform"},
                                              {RandomStart::kGaussian, "gaussian"},
                                              {RandomStart::kBoundary, "boundary"}});
  return kNames;
}

uint64_t sample_seed(uint64_t seed, int64_t sample_id, int64_t stream) {
  // Each input goes through the bijective SplitMix64 mix before the next joins, so no linear
  // relation between ids and streams collides (id·131 + stream did: (id, 131) met (id + 1, 0)).
  const uint64_t per_seed = splitmix64(seed + 0x9E3779B97F4A7C15ULL);
  const uint64_t per_sample = splitmix64(per_seed ^ static_cast<uint64_t>(sample_id));
  return splitmix64(per_sample ^ (static_cast<uint64_t>(stream) * 0x9E3779B97F4A7C15ULL));
}

torch::Tensor random_start(const ThreatModel& threat, RandomStart kind, double gaussian_scale,
                           const torch::Tensor& clean, const torch::Tensor& sample_ids,
                           uint64_t seed, int64_t restart) {
  if (kind == RandomStart::kNone) return clean.clone();
  const auto sample_shape = clean.sizes().slice(1);
  const int64_t dims = clean[0].numel();
  // Ids and the per-sample draws stay on the host: read by pointer, not by item() (an operator).
  const torch::Tensor ids_tensor = sample_ids.to(torch::kCPU, torch::kInt64).contiguous();
  const int64_t* ids = ids_tensor.data_ptr<int64_t>();
  std::vector<torch::Tensor> deltas;
  deltas.reserve(clean.size(0));
  for (int64_t i = 0; i < clean.size(0); ++i) {
    auto generator = at::detail::createCPUGenerator(sample_seed(seed, ids[i], restart));
    torch::Tensor delta;
    switch (kind) {
      case RandomStart::kGaussian:
        delta = gaussian_scale * torch::randn(sample_shape, generator);
        break;
      case RandomStart::kUniform:
        if (threat.norm == Norm::kLinf) {
          delta = threat.epsilon * (2 * torch::rand(sample_shape, generator) - 1);
        } else {
          const torch::Tensor direction = torch::randn(sample_shape, generator);
          const torch::Tensor draw = torch::rand({1}, generator);
          const double radius = threat.epsilon * std::pow(*draw.data_ptr<float>(), 1.0 / dims);
          const torch::Tensor norm = direction.norm();
          delta = direction * (radius / (*norm.data_ptr<float>() + kTiny));
        }
        break;
      case RandomStart::kBoundary:
        if (threat.norm == Norm::kLinf) {
          const torch::Tensor t = 2 * torch::rand(sample_shape, generator) - 1;
          delta = threat.epsilon * t / (t.abs().max() + kTiny);
        } else {
          const torch::Tensor t = torch::randn(sample_shape, generator);
          delta = threat.epsilon * t / (t.norm() + kTiny);
        }
        break;
      case RandomStart::kNone:
        break;
    }
    deltas.push_back(delta);
  }
  return threat.project(clean + torch::stack(deltas).to(clean.device(), clean.scalar_type()),
                        clean);
}

}  // namespace robustscope
