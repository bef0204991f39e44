// The one iterative loop, and its step rules.
#include "core/attack/ascent.hpp"

#include <torch/torch.h>

#include "core/error.hpp"

namespace robustscope {
namespace {

struct Evaluation {
  torch::Tensor value;
  torch::Tensor gradient;  // undefined for forward-only evaluations
  torch::Tensor logits;
};

Evaluation evaluate(Classifier& model, const torch::Tensor& x, const Targets& targets,
                    const Objective& objective, bool with_gradient) {
  if (!with_gradient) {
    torch::NoGradGuard no_grad;
    const torch::Tensor logits = model.forward(x);
    return {objective(logits, targets), {}, logits};
  }
  torch::Tensor input = x.detach().requires_grad_(true);
  const torch::Tensor logits = model.forward(input);
  const torch::Tensor value = objective(logits, targets);
  const torch::Tensor gradient = torch::autograd::grad({value.sum()}, {input})[0];
  return {value.detach(), gradient.detach(), logits.detach()};
}

void check_finite(const torch::Tensor& value, int64_t step) {
  if (!value.isfinite().all().item<bool>()) {
    throw Error("model output", "the objective is NaN or infinite at step " + std::to_string(step) +
                                    " (the model produced non-finite logits?)");
  }
}

}  // namespace

torch::Tensor FixedStep::propose(const IterateState& state) {
  return state.x + step_size_ * state.threat.ascent_direction(state.gradient);
}

void ApgdStep::begin(const IterateState& start) {
  const int64_t n = start.x.size(0);
  step_size_ = torch::full({n}, 2.0 * start.threat.epsilon, start.x.options());
  previous_x_ = start.x;
  best_x_ = start.x;
  best_gradient_ = start.gradient;
  best_value_ = start.value;
  best_value_at_last_check_ = start.value;
  reduced_at_last_check_ = torch::ones({n}, start.x.options().dtype(torch::kBool));
  history_.clear();
  checkpoint_gap_ = std::max<int64_t>(static_cast<int64_t>(0.22 * start.steps), 1);
  gap_decrease_ = std::max<int64_t>(static_cast<int64_t>(0.03 * start.steps), 1);
  minimum_gap_ = std::max<int64_t>(static_cast<int64_t>(0.06 * start.steps), 1);
  since_checkpoint_ = 0;
}

torch::Tensor ApgdStep::propose(const IterateState& state) {
  torch::Tensor x = state.x;
  torch::Tensor gradient = state.gradient;
  if (state.step > 0) {
    history_.push_back(state.value);
    const torch::Tensor improved = state.value > best_value_;
    const torch::Tensor improved_view = per_sample_view(improved, x);
    best_x_ = torch::where(improved_view, x, best_x_);
    best_gradient_ = torch::where(improved_view, gradient, best_gradient_);
    best_value_ = torch::where(improved, state.value, best_value_);
    if (++since_checkpoint_ == checkpoint_gap_) {
      // Condition 1: the objective increased in at most ρ·gap of the steps since the last
      // checkpoint.
      const int64_t last = static_cast<int64_t>(history_.size()) - 1;
      torch::Tensor increases = torch::zeros_like(state.value);
      for (int64_t back = 0; back < checkpoint_gap_; ++back) {
        const int64_t index = last - back;
        const torch::Tensor before =
            index - 1 >= 0 ? history_[index - 1] : torch::zeros_like(state.value);
        increases += (history_[index] > before).to(increases.scalar_type());
      }
      torch::Tensor oscillating = increases <= checkpoint_gap_ * rho_;
      // Condition 2: no reduction at the last checkpoint and no improvement since.
      const torch::Tensor stalled =
          reduced_at_last_check_.logical_not() & (best_value_at_last_check_ >= best_value_);
      oscillating = oscillating | stalled;
      reduced_at_last_check_ = oscillating;
      best_value_at_last_check_ = best_value_;
      step_size_ = torch::where(oscillating, step_size_ / 2, step_size_);
      const torch::Tensor oscillating_view = per_sample_view(oscillating, x);
      x = torch::where(oscillating_view, best_x_, x);
      gradient = torch::where(oscillating_view, best_gradient_, gradient);
      checkpoint_gap_ = std::max(checkpoint_gap_ - gap_decrease_, minimum_gap_);
      since_checkpoint_ = 0;
    }
  }
  const torch::Tensor momentum = x - previous_x_;
  previous_x_ = x;
  const double alpha = state.step == 0 ? 1.0 : 0.75;
  const torch::Tensor z = state.threat.project(
      x + per_sample_view(step_size_, x) * state.threat.ascent_direction(gradient), state.clean);
  return state.threat.project(x + alpha * (z - x) + (1 - alpha) * momentum, state.clean);
}

AscentResult run_ascent(Classifier& model, const torch::Tensor& clean, const Targets& targets,
                        const torch::Tensor& sample_ids, const Objective& objective,
                        const ThreatModel& threat, StepRule& rule, const AscentSettings& settings) {
  const int64_t n = clean.size(0);
  const auto options = clean.options();
  model.set_training(false);
  AscentResult result;
  result.best_x = clean.clone();
  result.best_value = torch::full({n}, -std::numeric_limits<float>::infinity(), options);
  result.best_step = torch::zeros({n}, options.dtype(torch::kInt64));
  result.fooled = torch::zeros({n}, options.dtype(torch::kBool));
  result.fooled_x = torch::Tensor();
  torch::Tensor fooled_x = clean.clone();
  torch::Tensor best_logits, fooled_logits;  // allocated at the first evaluation (K is known then)
  if (settings.record_trace) {
    result.trace = torch::full({n, settings.restarts, settings.steps + 1},
                               std::numeric_limits<float>::quiet_NaN(), torch::kFloat32);
  }
  const torch::Tensor all = torch::arange(n, options.dtype(torch::kInt64));
  for (int64_t restart = 0; restart < settings.restarts; ++restart) {
    const torch::Tensor active = settings.restart_only_unfooled && restart > 0
                                     ? all.masked_select(result.fooled.logical_not())
                                     : all;
    if (active.numel() == 0) break;
    const torch::Tensor x0 = clean.index_select(0, active);
    const Targets active_targets = targets.select(active);
    const torch::Tensor active_cpu = active.cpu();
    torch::Tensor x = random_start(threat, settings.start, settings.gaussian_scale, x0,
                                   sample_ids.index_select(0, active_cpu), settings.seed, restart);
    for (int64_t step = 0; step <= settings.steps; ++step) {
      const bool last = step == settings.steps;
      const Evaluation evaluation = evaluate(model, x, active_targets, objective, !last);
      check_finite(evaluation.value, step);
      if (!best_logits.defined()) {
        best_logits = torch::zeros({n, evaluation.logits.size(1)}, evaluation.logits.options());
        fooled_logits = torch::zeros_like(best_logits);
      }
      const int64_t count = active.numel();
      (last ? result.forward_passes : result.forward_backward_passes) += count;

      const torch::Tensor improved = evaluation.value > result.best_value.index_select(0, active);
      const torch::Tensor improved_rows = active.masked_select(improved);
      const torch::Tensor improved_index = improved.nonzero().squeeze(1);
      result.best_x.index_copy_(0, improved_rows, x.index_select(0, improved_index));
      result.best_value.index_copy_(0, improved_rows,
                                    evaluation.value.index_select(0, improved_index));
      result.best_step.index_fill_(0, improved_rows, step);
      best_logits.index_copy_(0, improved_rows, evaluation.logits.index_select(0, improved_index));

      const torch::Tensor newly_fooled = evaluation.logits.argmax(1).ne(active_targets.labels) &
                                         result.fooled.index_select(0, active).logical_not();
      const torch::Tensor fooled_rows = active.masked_select(newly_fooled);
      const torch::Tensor fooled_index = newly_fooled.nonzero().squeeze(1);
      fooled_x.index_copy_(0, fooled_rows, x.index_select(0, fooled_index));
      fooled_logits.index_copy_(0, fooled_rows, evaluation.logits.index_select(0, fooled_index));
      result.fooled.index_fill_(0, fooled_rows, true);

      if (settings.record_trace) {
        result.trace.select(1, restart)
            .select(1, step)
            .index_copy_(0, active_cpu, evaluation.value.to(torch::kCPU, torch::kFloat32));
      }
      if (last) break;
      const IterateState state{
          x0, x, evaluation.value, evaluation.gradient, step, settings.steps, threat};
      if (step == 0) rule.begin(state);
      x = threat.project(rule.propose(state), x0).detach();
    }
  }
  result.fooled_x = torch::where(per_sample_view(result.fooled, clean), fooled_x, result.best_x);
  if (best_logits.defined()) {
    result.best_x_logits = best_logits;
    result.fooled_x_logits = torch::where(result.fooled.unsqueeze(1), fooled_logits, best_logits);
  }
  return result;
}

}  // namespace robustscope
