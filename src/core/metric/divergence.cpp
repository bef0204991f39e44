// Logit normalisations and divergences.
#include "core/metric/divergence.hpp"

#include <torch/types.h>

#include <cmath>

namespace robustscope {
namespace {

constexpr double kTiny = 1e-12;

torch::Tensor kl(const torch::Tensor& log_p, const torch::Tensor& log_q) {
  return (log_p.exp() * (log_p - log_q)).sum(1);
}

}  // namespace

const EnumNames<Normalization>& normalization_names() {
  static const EnumNames<Normalization> kNames({{Normalization::kNone, "none"},
                                                {Normalization::kStandardize, "standardize"},
                                                {Normalization::kL2, "l2"}});
  return kNames;
}

const EnumNames<Divergence>& divergence_names() {
  static const EnumNames<Divergence> kNames({{Divergence::kKl, "kl"},
                                             {Divergence::kReverseKl, "reverse-kl"},
                                             {Divergence::kSymmetricKl, "symmetric-kl"},
                                             {Divergence::kJs, "js"}});
  return kNames;
}

torch::Tensor normalize_logits(const torch::Tensor& logits, Normalization normalization,
                               double tau) {
  switch (normalization) {
    case Normalization::kStandardize: {
      const torch::Tensor centred = logits - logits.mean(1, /*keepdim=*/true);
      return centred / (centred.pow(2).mean(1, /*keepdim=*/true).sqrt() + kTiny);
    }
    case Normalization::kL2: {
      const double scale = tau > 0 ? tau : std::sqrt(static_cast<double>(logits.size(1)));
      return scale * logits / (logits.norm(2, 1, /*keepdim=*/true) + kTiny);
    }
    case Normalization::kNone:
      break;
  }
  return logits;
}

torch::Tensor normalized_log_probs(const torch::Tensor& logits, Normalization normalization,
                                   double tau) {
  return torch::log_softmax(normalize_logits(logits, normalization, tau), 1);
}

torch::Tensor divergence(const torch::Tensor& clean_log_probs,
                         const torch::Tensor& perturbed_log_probs, Divergence kind) {
  switch (kind) {
    case Divergence::kKl:
      return kl(clean_log_probs, perturbed_log_probs);
    case Divergence::kReverseKl:
      return kl(perturbed_log_probs, clean_log_probs);
    case Divergence::kSymmetricKl:
      return kl(clean_log_probs, perturbed_log_probs) + kl(perturbed_log_probs, clean_log_probs);
    case Divergence::kJs:
      break;
  }
  const torch::Tensor log_mixture =
      torch::logsumexp(torch::stack({clean_log_probs, perturbed_log_probs}), 0) - std::log(2.0);
  return 0.5 * kl(clean_log_probs, log_mixture) + 0.5 * kl(perturbed_log_probs, log_mixture);
}

}  // namespace robustscope
