// The one iterative loop, and its step rules.
#include "core/attack/ascent.hpp"

#include <torch/autograd.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "core/error.hpp"
#include "core/runtime/step_graph.hpp"

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

}  // namespace

torch::Tensor FixedStep::propose(const IterateState& state) {
  return state.x + step_size_ * state.threat.ascent_direction(state.gradient);
}

void ApgdStep::begin(const IterateState& start) {
  const int64_t n = start.x.size(0);
  step_size_ = torch::full({n}, 2.0 * start.threat.epsilon, start.x.options());
  // Copies: the loop updates its iterate in place.
  previous_x_ = start.x.clone();
  best_x_ = start.x.clone();
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
  previous_x_ = x.clone();
  const double alpha = state.step == 0 ? 1.0 : 0.75;
  const torch::Tensor z = state.threat.project(
      x + per_sample_view(step_size_, x) * state.threat.ascent_direction(gradient), state.clean);
  return state.threat.project(x + alpha * (z - x) + (1 - alpha) * momentum, state.clean);
}

namespace {

// One restart's state on the device. Every step updates it in place, so that a step captured as a
// CUDA graph replays on the same memory; the eager path runs the same code.
struct RestartState {
  torch::Tensor x, best_x, best_value, best_step, fooled, first_fooled_x;
  torch::Tensor best_logits, fooled_logits;  // [count, K]
  torch::Tensor trace;                       // [count, steps + 1] when recorded
  torch::Tensor finite_steps;                // [steps + 1]: every objective value finite
  torch::Tensor step;                        // 0-dim int64: the step being evaluated
};

}  // namespace

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
  torch::Tensor fooled_x = clean.clone();
  result.last_x = clean.clone();
  torch::Tensor best_logits, fooled_logits;  // allocated at the first evaluation (K is known then)
  if (settings.record_trace) {
    result.trace = torch::full({n, settings.restarts, settings.steps + 1},
                               std::numeric_limits<float>::quiet_NaN(), torch::kFloat32);
  }
  // With CUDA graphs enabled, steps 2.. of a restart replay a captured step on a GPU; the first two
  // run eagerly (they warm up autograd, and step 0 starts the rule).
  const bool replay_steps = rule.capturable() && cuda_graphs_available(clean.device());
  const torch::Tensor all = torch::arange(n, options.dtype(torch::kInt64));
  for (int64_t restart = 0; restart < settings.restarts; ++restart) {
    // The samples this restart runs on: one host synchronisation per restart, none per step.
    const bool subset = settings.restart_only_unfooled && restart > 0;
    const torch::Tensor active = subset ? all.masked_select(result.fooled.logical_not()) : all;
    const int64_t count = active.size(0);
    if (count == 0) break;
    const auto take = [&](const torch::Tensor& tensor) {
      return subset ? tensor.index_select(0, active) : tensor;
    };
    const torch::Tensor x0 = take(clean);
    const Targets active_targets = subset ? targets.select(active) : targets;
    RestartState s;
    s.x = random_start(threat, settings.start, settings.gaussian_scale, x0,
                       subset ? sample_ids.index_select(0, active.cpu()) : sample_ids,
                       settings.seed, restart)
              .clone();
    s.best_x = take(result.best_x);
    s.best_value = take(result.best_value);
    s.best_step = take(result.best_step);
    s.fooled = take(result.fooled);
    s.first_fooled_x = take(fooled_x);
    if (settings.record_trace) s.trace = torch::empty({count, settings.steps + 1}, options);
    s.finite_steps = torch::empty({settings.steps + 1}, options.dtype(torch::kBool));
    s.step = torch::zeros({}, options.dtype(torch::kInt64));
    int64_t host_step = 0;  // the step as the host sees it (eager steps only)

    // Evaluates the iterate of step s.step, keeps the best and the first fooled iterate, and
    // (unless last) moves to the next iterate. No host synchronisation.
    const auto advance = [&](bool last) {
      const Evaluation evaluation = evaluate(model, s.x, active_targets, objective, !last);
      if (!best_logits.defined()) {
        best_logits = torch::zeros({n, evaluation.logits.size(1)}, evaluation.logits.options());
        fooled_logits = torch::zeros_like(best_logits);
      }
      if (!s.best_logits.defined()) {
        s.best_logits = take(best_logits);
        s.fooled_logits = take(fooled_logits);
      }
      const torch::Tensor at_step = s.step.view({1});
      s.finite_steps.index_copy_(0, at_step, evaluation.value.isfinite().all().view({1}));

      const torch::Tensor improved = evaluation.value > s.best_value;
      s.best_x.copy_(torch::where(per_sample_view(improved, s.x), s.x, s.best_x));
      s.best_value.copy_(torch::where(improved, evaluation.value, s.best_value));
      s.best_step.copy_(torch::where(improved, s.step, s.best_step));
      s.best_logits.copy_(torch::where(improved.unsqueeze(1), evaluation.logits, s.best_logits));

      const torch::Tensor newly_fooled =
          evaluation.logits.argmax(1).ne(active_targets.labels) & s.fooled.logical_not();
      s.first_fooled_x.copy_(
          torch::where(per_sample_view(newly_fooled, s.x), s.x, s.first_fooled_x));
      s.fooled_logits.copy_(
          torch::where(newly_fooled.unsqueeze(1), evaluation.logits, s.fooled_logits));
      s.fooled.logical_or_(newly_fooled);

      if (settings.record_trace) s.trace.index_copy_(1, at_step, evaluation.value.unsqueeze(1));
      if (last) return;
      const IterateState state{
          x0, s.x, evaluation.value, evaluation.gradient, host_step, settings.steps, threat};
      if (host_step == 0) rule.begin(state);
      s.x.copy_(threat.project(rule.propose(state), x0));
      s.step.add_(1);
    };
    constexpr int64_t kEagerSteps = 2;
    if (replay_steps && settings.steps > kEagerSteps) {
      run_captured(
          [&] {
            advance(false);
            ++host_step;
          },
          settings.steps, kEagerSteps, clean.device());
    } else {
      for (; host_step < settings.steps; ++host_step) advance(false);
    }
    advance(true);
    result.forward_backward_passes += count * settings.steps;
    result.forward_passes += count;

    if (!s.finite_steps.all().item<bool>()) {
      const int64_t bad_step =
          s.finite_steps.logical_not().to(torch::kInt64).argmax().item<int64_t>();
      throw Error("model output", "the objective is NaN or infinite at step " +
                                      std::to_string(bad_step) +
                                      " (the model produced non-finite logits?)");
    }
    const auto put = [&](torch::Tensor& whole, const torch::Tensor& part) {
      if (subset)
        whole.index_copy_(0, active, part);
      else
        whole = part;
    };
    put(result.best_x, s.best_x);
    put(result.best_value, s.best_value);
    put(result.best_step, s.best_step);
    put(result.fooled, s.fooled);
    put(fooled_x, s.first_fooled_x);
    put(best_logits, s.best_logits);
    put(fooled_logits, s.fooled_logits);
    put(result.last_x, s.x);
    if (settings.record_trace) {
      // One copy to the host per restart.
      result.trace.select(1, restart)
          .index_copy_(0, active.cpu(), s.trace.to(torch::kCPU, torch::kFloat32));
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
