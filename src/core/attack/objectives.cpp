// Attack objectives.
#include "core/attack/objectives.hpp"

#include <torch/nn/functional/loss.h>
#include <torch/types.h>

#include "core/error.hpp"

namespace robustscope {
namespace {

torch::Tensor select_if_defined(const torch::Tensor& tensor, const torch::Tensor& index) {
  return tensor.defined() ? tensor.index_select(0, index.to(tensor.device())) : tensor;
}

// max_{j≠t} z_j, by masking the true class with -inf.
torch::Tensor best_other_logit(const torch::Tensor& logits, const torch::Tensor& labels) {
  const torch::Tensor true_class = torch::one_hot(labels, logits.size(1)).to(torch::kBool);
  return logits.masked_fill(true_class, -std::numeric_limits<float>::infinity()).amax(1);
}

}  // namespace

Targets Targets::select(const torch::Tensor& index) const {
  return {select_if_defined(labels, index), select_if_defined(target_labels, index),
          select_if_defined(clean_log_probs, index)};
}

torch::Tensor logit_margin(const torch::Tensor& logits, const torch::Tensor& labels) {
  return logits.gather(1, labels.unsqueeze(1)).squeeze(1) - best_other_logit(logits, labels);
}

const EnumNames<Loss>& loss_names() {
  static const EnumNames<Loss> kNames({{Loss::kCrossEntropy, "ce"},
                                       {Loss::kMargin, "margin"},
                                       {Loss::kDlr, "dlr"},
                                       {Loss::kDlrTargeted, "dlr-targeted"}});
  return kNames;
}

Objective make_attack_objective(Loss loss) {
  if (loss == Loss::kCrossEntropy) {
    return [](const torch::Tensor& logits, const Targets& targets) {
      return torch::nn::functional::cross_entropy(
          logits, targets.labels,
          torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    };
  }
  if (loss == Loss::kMargin) {
    return [](const torch::Tensor& logits, const Targets& targets) {
      return -logit_margin(logits, targets.labels);
    };
  }
  if (loss == Loss::kDlr) {
    return [](const torch::Tensor& logits, const Targets& targets) {
      const torch::Tensor sorted = std::get<0>(logits.sort(1, /*descending=*/true));
      const torch::Tensor scale = sorted.select(1, 0) - sorted.select(1, 2) + 1e-12;
      return -logit_margin(logits, targets.labels) / scale;
    };
  }
  return [](const torch::Tensor& logits, const Targets& targets) {
    const torch::Tensor sorted = std::get<0>(logits.sort(1, /*descending=*/true));
    const torch::Tensor scale =
        sorted.select(1, 0) - 0.5 * (sorted.select(1, 2) + sorted.select(1, 3)) + 1e-12;
    const torch::Tensor true_logit = logits.gather(1, targets.labels.unsqueeze(1)).squeeze(1);
    const torch::Tensor target_logit =
        logits.gather(1, targets.target_labels.unsqueeze(1)).squeeze(1);
    return -(true_logit - target_logit) / scale;
  };
}

}  // namespace robustscope
