// Certified upper bounds on ψ and certified robust accuracy.
#include "core/certify/certify.hpp"

#include <torch/types.h>
#include <torch/utils.h>

#include <cmath>

#include "core/error.hpp"

namespace robustscope {
namespace {

constexpr double kTiny = 1e-12;  // the normalisation's own guard (metric/divergence.cpp)

const SettingTable<CertifyConfig>& certify_settings() {
  static const SettingTable<CertifyConfig> kTable = [] {
    SettingTable<CertifyConfig> table;
    table.choice("method", &CertifyConfig::method, bound_method_names(), "bound propagation")
        .choice("norm", &CertifyConfig::norm, norm_names(), "threat model norm")
        .number("epsilon", &CertifyConfig::epsilon, "radius ε of the ball")
        .choice("divergence", &CertifyConfig::divergence, divergence_names(), "D (kl only)")
        .choice("normalization", &CertifyConfig::normalization, normalization_names(),
                "logit normalisation N (none or standardize)")
        .integer("chunk_size", &CertifyConfig::chunk_size, "samples bounded at once");
    return table;
  }();
  return kTable;
}

}  // namespace

void CertifyConfig::set(const std::string& key, const std::string& value) {
  certify_settings().set(*this, "certify setting", key, value);
}

void CertifyConfig::validate() const {
  if (!(epsilon > 0) || !std::isfinite(epsilon))
    throw Error::for_key("epsilon", "must be a finite number > 0, got " + format_number(epsilon));
  if (divergence != Divergence::kKl)
    throw Error::for_key("divergence", "no certified bound is implemented for " +
                                           divergence_names().name(divergence) + " (only kl)");
  if (normalization == Normalization::kL2)
    throw Error::for_key("normalization",
                         "no certified bound is implemented for the l2 normalisation (it needs "
                         "bounds on every logit's size): use none or standardize");
  if (chunk_size < 1 || chunk_size > 65536)
    throw Error::for_key("chunk_size", "must be in 1..65536, got " + std::to_string(chunk_size));
}

SettingEntries CertifyConfig::entries() const {
  SettingEntries entries;
  for (const auto& entry : certify_settings().entries())
    if (entry.key != "chunk_size") entries[entry.key] = entry.value(*this);
  return entries;
}

torch::Tensor kl_upper_bound(const torch::Tensor& clean_logits, const torch::Tensor& lower,
                             const torch::Tensor& upper, Normalization normalization) {
  const torch::Tensor logits = clean_logits.to(torch::kFloat64);
  const torch::Tensor l = lower.to(torch::kFloat64), u = upper.to(torch::kFloat64);
  const int64_t k = logits.size(1);
  // B[j][i] ≥ z'_j − z'_i: U_j − L_i (exact 0 on the diagonal).
  torch::Tensor pair_upper = u.unsqueeze(2) - l.unsqueeze(1);  // [N, j, i]
  const torch::Tensor eye = torch::eye(k, logits.options()).to(torch::kBool).unsqueeze(0);
  pair_upper = pair_upper.masked_fill(eye, 0);
  torch::Tensor normalised = pair_upper;
  if (normalization == Normalization::kStandardize) {
    const torch::Tensor pair_lower = (l.unsqueeze(2) - u.unsqueeze(1)).masked_fill(eye, 0);
    const torch::Tensor straddles = (pair_lower <= 0) & (pair_upper >= 0);
    const torch::Tensor min_square =
        torch::where(straddles, torch::zeros_like(pair_lower),
                     torch::minimum(pair_lower.pow(2), pair_upper.pow(2)));
    const torch::Tensor max_square = torch::maximum(pair_lower.pow(2), pair_upper.pow(2));
    const double pairs = 2.0 * static_cast<double>(k * k);
    const torch::Tensor s_min = (min_square.sum({1, 2}) / pairs).sqrt().view({-1, 1, 1});
    const torch::Tensor s_max = (max_square.sum({1, 2}) / pairs).sqrt().view({-1, 1, 1});
    normalised =
        torch::where(pair_upper >= 0, pair_upper / (s_min + kTiny), pair_upper / (s_max + kTiny));
    // Whatever the logits: standardised ones have Σ ñ² ≤ K (zero mean, population standard
    // deviation 1, less with the guard), so by Cauchy–Schwarz ñ_j − ñ_i = (e_j − e_i)·ñ ≤ √(2K).
    // This keeps the bound finite where s_min = 0 (every pair of logits may tie), which the ratio
    // alone cannot (it would be B/1e-12).
    const double spread_bound = std::sqrt(2.0 * static_cast<double>(k));
    normalised =
        torch::where((s_min <= 0) & (pair_upper > 0), torch::full_like(normalised, spread_bound),
                     normalised.clamp_max(spread_bound));
    // 0/0 on the diagonal when s_min is 0: the diagonal is exactly 0.
    normalised = normalised.masked_fill(eye, 0);
  }
  const torch::Tensor log_p = normalized_log_probs(logits, normalization, 0);
  // Σ_i p_i log Σ_j exp(ñ_j − ñ_i): logsumexp over j of B[j][i].
  const torch::Tensor cross = torch::logsumexp(normalised, 1);  // [N, i]
  const torch::Tensor bound = (log_p.exp() * (log_p + cross)).sum(1);
  return bound.clamp_min(0);
}

double certify_cost(const CertifyConfig& config, int64_t num_classes) {
  const double ibp = 1 + 2;
  return config.method == BoundMethod::kIbp ? ibp
                                            : ibp + 2.0 * 2 * static_cast<double>(num_classes);
}

CertifyResult certify(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                      const CertifyConfig& config) {
  config.validate();
  check_epsilon(config.norm, config.epsilon, images[0].numel(), "epsilon");
  model.set_training(false);
  const ThreatModel threat{config.norm, config.epsilon};
  std::vector<torch::Tensor> psi, certified, margin, classes;
  CertifyResult result;
  for (int64_t start = 0; start < images.size(0); start += config.chunk_size) {
    const torch::Tensor x = images.slice(0, start, start + config.chunk_size);
    const torch::Tensor y = labels.slice(0, start, start + config.chunk_size);
    torch::Tensor logits;
    {
      torch::NoGradGuard no_grad;
      logits = model.forward(x);
    }
    const int64_t n = x.size(0), k = logits.size(1);
    const torch::Tensor c = logits.argmax(1);
    // Rows e_j − e_c for every j (the row of c is zero).
    const torch::Tensor eye = torch::eye(k, logits.options());
    const torch::Tensor specification =
        eye.unsqueeze(0).expand({n, k, k}) - eye.index_select(0, c).unsqueeze(1).expand({n, k, k});
    const SpecificationBounds bounds =
        bound_specification(model, x, specification, threat, config.method);
    const torch::Tensor at_c = torch::one_hot(c, k).to(torch::kBool);
    const torch::Tensor lower = bounds.lower.masked_fill(at_c, 0);
    const torch::Tensor upper = bounds.upper.masked_fill(at_c, 0);
    psi.push_back(kl_upper_bound(logits, lower, upper, config.normalization).cpu());
    const torch::Tensor others_upper =
        upper.masked_fill(at_c, -std::numeric_limits<float>::infinity()).amax(1);
    certified.push_back(((others_upper < 0) & c.eq(y)).cpu());
    margin.push_back((-others_upper).cpu());
    classes.push_back(c.cpu());
    result.forward_equivalents += (1 + bounds.forward_equivalents) * static_cast<double>(n);
  }
  result.psi_upper = torch::cat(psi).to(torch::kFloat32);
  result.certified = torch::cat(certified);
  result.margin_lower = torch::cat(margin);
  result.clean_class = torch::cat(classes);
  return result;
}

}  // namespace robustscope
