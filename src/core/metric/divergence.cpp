// Logit normalisations and divergences.
#include "core/metric/divergence.hpp"

#include <torch/torch.h>

#include <cmath>

#include "core/error.hpp"

namespace robustscope {
namespace {

constexpr double kTiny = 1e-12;

torch::Tensor kl(const torch::Tensor& log_p, const torch::Tensor& log_q) {
  return (log_p.exp() * (log_p - log_q)).sum(1);
}

}  // namespace

void validate_divergence(const std::string& kind) {
  if (kind != "kl" && kind != "reverse-kl" && kind != "symmetric-kl" && kind != "js") {
    throw Error("divergence",
                "\"" + kind + "\" is unknown (known: kl, reverse-kl, symmetric-kl, js)");
  }
}

void validate_normalization(const std::string& normalization) {
  if (normalization != "none" && normalization != "standardize" && normalization != "l2") {
    throw Error("normalization",
                "\"" + normalization + "\" is unknown (known: none, standardize, l2)");
  }
}

torch::Tensor normalize_logits(const torch::Tensor& logits, const std::string& normalization,
                               double tau) {
  validate_normalization(normalization);
  if (normalization == "standardize") {
    const torch::Tensor centred = logits - logits.mean(1, /*keepdim=*/true);
    return centred / (centred.pow(2).mean(1, /*keepdim=*/true).sqrt() + kTiny);
  }
  if (normalization == "l2") {
    const double scale = tau > 0 ? tau : std::sqrt(static_cast<double>(logits.size(1)));
    return scale * logits / (logits.norm(2, 1, /*keepdim=*/true) + kTiny);
  }
  return logits;
}

torch::Tensor normalized_log_probs(const torch::Tensor& logits, const std::string& normalization,
                                   double tau) {
  return torch::log_softmax(normalize_logits(logits, normalization, tau), 1);
}

torch::Tensor divergence(const torch::Tensor& clean_log_probs,
                         const torch::Tensor& perturbed_log_probs, const std::string& kind) {
  validate_divergence(kind);
  if (kind == "kl") return kl(clean_log_probs, perturbed_log_probs);
  if (kind == "reverse-kl") return kl(perturbed_log_probs, clean_log_probs);
  if (kind == "symmetric-kl") {
    return kl(clean_log_probs, perturbed_log_probs) + kl(perturbed_log_probs, clean_log_probs);
  }
  const torch::Tensor log_mixture =
      torch::logsumexp(torch::stack({clean_log_probs, perturbed_log_probs}), 0) - std::log(2.0);
  return 0.5 * kl(clean_log_probs, log_mixture) + 0.5 * kl(perturbed_log_probs, log_mixture);
}

}  // namespace robustscope
