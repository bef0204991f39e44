// Carlini–Wagner L2.
#include "core/attack/carlini_wagner.hpp"

#include <torch/optim.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "core/attack/objectives.hpp"
#include "core/attack/threat_model.hpp"

namespace robustscope {

CarliniWagnerResult carlini_wagner_l2(Classifier& model, const torch::Tensor& images,
                                      const torch::Tensor& labels,
                                      const CarliniWagnerSettings& settings) {
  const int64_t n = images.size(0);
  const auto options = images.options();
  model.set_training(false);
  torch::Tensor lower = torch::zeros({n}, options);
  torch::Tensor upper = torch::full({n}, 1e10, options);
  torch::Tensor constant = torch::full({n}, settings.initial_const, options);
  torch::Tensor best_l2 = torch::full({n}, std::numeric_limits<float>::infinity(), options);
  CarliniWagnerResult result{images.clone(), torch::zeros({n}, options.dtype(torch::kBool)), 0};
  // atanh of the image, pulled slightly inside (0,1) so that 0 and 1 stay finite.
  const torch::Tensor w_start = torch::atanh((2 * images - 1) * (1 - 1e-6));
  const int64_t abort_check = std::max<int64_t>(settings.steps / 10, 1);

  for (int64_t round = 0; round < settings.binary_search_steps; ++round) {
    torch::Tensor w = w_start.clone().requires_grad_(true);
    torch::optim::Adam optimizer({w}, torch::optim::AdamOptions(settings.learning_rate));
    torch::Tensor succeeded = torch::zeros({n}, options.dtype(torch::kBool));
    double previous_loss = std::numeric_limits<double>::infinity();
    for (int64_t step = 0; step < settings.steps; ++step) {
      const torch::Tensor candidate = (torch::tanh(w) + 1) / 2;
      const torch::Tensor logits = model.forward(candidate);
      const torch::Tensor margin = logit_margin(logits, labels);
      const torch::Tensor l2_squared = (candidate - images).flatten(1).pow(2).sum(1);
      const torch::Tensor loss =
          (l2_squared + constant * (margin + settings.confidence).clamp_min(0)).sum();
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      result.forward_backward_passes += n;
      {
        torch::NoGradGuard no_grad;
        const torch::Tensor success = margin.detach() < -settings.confidence;
        const torch::Tensor l2 = l2_squared.detach().sqrt();
        const torch::Tensor better = success & (l2 < best_l2);
        best_l2 = torch::where(better, l2, best_l2);
        result.adversarial = torch::where(per_sample_view(better, candidate), candidate.detach(),
                                          result.adversarial);
        succeeded |= success;
      }
      if ((step + 1) % abort_check == 0) {
        const double current = loss.item<double>();
        if (current > previous_loss * 0.9999) break;  // early abort: no progress
        previous_loss = current;
      }
    }
    // Binary search on c: smaller where this round succeeded, larger (x10 until bracketed) where
    // not.
    upper = torch::where(succeeded, torch::minimum(upper, constant), upper);
    lower = torch::where(succeeded, lower, torch::maximum(lower, constant));
    constant = torch::where(upper < 1e9, (lower + upper) / 2, constant * 10);
  }
  result.found = best_l2.isfinite();
  return result;
}

}  // namespace robustscope
