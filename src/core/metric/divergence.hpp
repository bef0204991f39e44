// Prediction divergences between a clean and a perturbed prediction, on normalised logits:
// p̃ = softmax(N(Z)) with N ∈ {none, standardize, l2} (docs/methods.md §2). The normalisation makes
// the divergence invariant to the logit scale: multiplying the last layer by c > 0 changes no
// prediction, but changes a raw softmax divergence.
#pragma once

#include <torch/types.h>

#include "core/settings.hpp"

namespace robustscope {

// none: Z; standardize: (Z − mean Z)/std Z over classes; l2: τ·Z/||Z||₂ (τ = √K when tau <= 0).
enum class Normalization { kNone, kStandardize, kL2 };
const EnumNames<Normalization>& normalization_names();

//   kl            KL(p ‖ q) = Σ p (log p − log q)    (p clean, q perturbed; default)
//   reverse-kl    KL(q ‖ p)
//   symmetric-kl  KL(p ‖ q) + KL(q ‖ p)
//   js            ½ KL(p ‖ m) + ½ KL(q ‖ m), m = (p + q)/2
enum class Divergence { kKl, kReverseKl, kSymmetricKl, kJs };
const EnumNames<Divergence>& divergence_names();

torch::Tensor normalize_logits(const torch::Tensor& logits, Normalization normalization,
                               double tau);

// log p̃ = log_softmax(N(z)).
torch::Tensor normalized_log_probs(const torch::Tensor& logits, Normalization normalization,
                                   double tau);

// Per-sample divergence between distributions given as log-probabilities [N, K].
torch::Tensor divergence(const torch::Tensor& clean_log_probs,
                         const torch::Tensor& perturbed_log_probs, Divergence kind);

}  // namespace robustscope
