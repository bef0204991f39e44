// The one iterative loop behind PGD/BIM/FGSM, APGD and the robustness metric's ascent. Attacks and
// the metric differ only in three small pieces: the objective (objectives.hpp,
// metric/divergence.hpp), the step rule (below) and the threat model with its random start
// (threat_model.hpp). Random starts, projection onto ball and box, restarts and the per-sample
// bookkeeping of the best and of the first misclassified iterate are written here once.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>

#include "core/attack/objectives.hpp"
#include "core/attack/threat_model.hpp"
#include "core/models/classifier.hpp"

namespace robustscope {

// What a step rule sees after the loop evaluated the current iterate.
struct IterateState {
  const torch::Tensor& clean;     // x0 [n, ...]
  const torch::Tensor& x;         // current iterate (feasible)
  const torch::Tensor& value;     // objective at x [n]
  const torch::Tensor& gradient;  // ∇x objective at x
  int64_t step;                   // 0 is the start
  int64_t steps;
  const ThreatModel& threat;
};

class StepRule {
 public:
  virtual ~StepRule() = default;
  // Called at step 0 of every restart: reset any per-restart state.
  virtual void begin(const IterateState& start) = 0;
  // The next iterate; the loop projects it onto the ball and the box. The loop updates its
  // iterate in place: a rule keeps copies, never state.x itself.
  virtual torch::Tensor propose(const IterateState& state) = 0;
  // Whether propose() is the same device computation at every step after the first (no host
  // state, no host synchronisation), so that a step can be captured and replayed as a CUDA graph.
  virtual bool capturable() const { return false; }
};

// x + α·d(∇), with d the threat model's steepest-ascent direction (sign for L∞, unit L2 gradient):
// FGSM (one step of ε), BIM/PGD (Kurakin et al. 2016; Madry et al. 2018) and the metric's ascent.
class FixedStep : public StepRule {
 public:
  explicit FixedStep(double step_size) : step_size_(step_size) {}
  void begin(const IterateState&) override {}
  torch::Tensor propose(const IterateState& state) override;
  bool capturable() const override { return true; }

 private:
  double step_size_;
};

// APGD's step (Croce & Hein 2020, Alg. 1): initial step 2ε, momentum α = 0.75, and at checkpoints
// w_j (first at 0.22·N_iter, gaps shrinking by 0.03·N_iter down to 0.06·N_iter) the step is halved
// and the iterate restarted from the best point when fewer than ρ = 0.75 of the steps since the
// last checkpoint increased the objective, or when the best value did not improve without a
// reduction.
class ApgdStep : public StepRule {
 public:
  explicit ApgdStep(double rho = 0.75) : rho_(rho) {}
  void begin(const IterateState& start) override;
  torch::Tensor propose(const IterateState& state) override;

 private:
  double rho_;
  torch::Tensor step_size_;  // [n]
  torch::Tensor previous_x_;
  torch::Tensor best_x_, best_gradient_, best_value_;
  torch::Tensor best_value_at_last_check_, reduced_at_last_check_;
  std::vector<torch::Tensor> history_;  // objective after each step
  int64_t checkpoint_gap_ = 0, gap_decrease_ = 0, minimum_gap_ = 0, since_checkpoint_ = 0;
};

struct AscentSettings {
  int64_t steps = 20;
  int64_t restarts = 1;
  RandomStart start = RandomStart::kUniform;
  double gaussian_scale = 0.001;
  uint64_t seed = 0;
  // Attacks: a restart runs only on the samples no earlier restart has fooled.
  bool restart_only_unfooled = false;
  bool record_trace = false;
};

struct AscentResult {
  torch::Tensor best_x;           // maximiser of the objective over steps and restarts
  torch::Tensor best_x_logits;    // the model's logits at best_x
  torch::Tensor best_value;       // [N]
  torch::Tensor best_step;        // [N] int64, step within its restart (0 = the start)
  torch::Tensor fooled;           // [N] bool: some iterate's argmax differs from targets.labels
  torch::Tensor fooled_x;         // the first such iterate; best_x where none was found
  torch::Tensor fooled_x_logits;  // the model's logits at fooled_x (no re-evaluation needed)
  torch::Tensor last_x;           // the final iterate (of the last restart run on each sample)
  torch::Tensor trace;            // [N, restarts, steps + 1] objective per step (NaN: not run)
  int64_t forward_passes = 0;     // per sample, summed
  int64_t forward_backward_passes = 0;  // per sample, summed
};

// Maximises `objective` over the threat model's ball around `clean` (model in eval mode, gradients
// taken with respect to the input only). Each restart costs `steps` forward+backward passes and one
// forward pass per sample. A non-finite objective throws Error naming the first such step. The
// bookkeeping has fixed shapes on the device: the host waits for the device once per restart (to
// choose the samples a restart runs on and to check finiteness), never per step. On a GPU with CUDA
// graphs enabled (runtime/step_graph.hpp) and a capturable rule, steps after the second replay one
// captured step: the same kernels on the same memory, so the same numbers as the eager loop.
AscentResult run_ascent(Classifier& model, const torch::Tensor& clean, const Targets& targets,
                        const torch::Tensor& sample_ids, const Objective& objective,
                        const ThreatModel& threat, StepRule& rule, const AscentSettings& settings);

}  // namespace robustscope
