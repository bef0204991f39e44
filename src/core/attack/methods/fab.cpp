// FAB-T, the targeted fast adaptive boundary attack (Croce & Hein 2020, "Minimally distorted
// adversarial examples with a fast adaptive boundary attack"), L∞ and L2: a minimum-norm attack.
// For each of the most likely other classes t in turn, on the samples no earlier target has fooled:
// at x_k linearise g = z_t − z_c, project x_k and the clean x onto {g ≥ 0} ∩ [0,1]^d (δ_k, δ_0),
// step to (1−α)(x_k + η·δ_k) + α(x + η·δ_0) with α = min(‖δ_k‖ / (‖δ_k‖ + ‖δ_0‖), α_max); once
// misclassified, keep the point if it is the closest so far and step back towards x by β. Restarts
// after the first start at a random point at half the best distance (or ε) from x. A sample counts
// as broken when its closest adversarial point lies within ε; the others are returned clean. [ours]
// The projections onto hyperplane ∩ box are solved exactly by bisection on the multiplier (the
// paper's reference sorts instead): δ = clip(λ·w, box) for L2, clip(λ·sign(w), box) for L∞.
#include <torch/autograd.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <limits>

#include "core/attack/attack.hpp"
#include "core/error.hpp"

namespace robustscope {
namespace {

constexpr int64_t kFabStream = 3000;  // apart from random starts, Square and landscape directions
constexpr int kBisections = 40;       // the multiplier to 2^-40 of its range

// Per sample: the smallest δ (in `norm`) with w·δ ≥ b and x + δ ∈ [0,1]^d; where no δ in the box
// reaches b, the one that comes closest. w, x: [N, d]; b: [N].
torch::Tensor project_onto_halfspace(const torch::Tensor& x, const torch::Tensor& w,
                                     const torch::Tensor& b, Norm norm) {
  const torch::Tensor low = -x, high = 1 - x;
  const torch::Tensor direction = norm == Norm::kLinf ? w.sign() : w;
  auto step = [&](const torch::Tensor& lambda) {
    return torch::max(torch::min(lambda.unsqueeze(1) * direction, high), low);
  };
  // The largest useful multiplier: every coordinate at its bound (L∞: 1; L2: max bound / |w_i|).
  torch::Tensor upper;
  if (norm == Norm::kLinf) {
    upper = torch::ones_like(b);
  } else {
    const torch::Tensor reach =
        torch::max(low.abs(), high.abs()) / w.abs().clamp_min(std::numeric_limits<float>::min());
    upper = reach.masked_fill(w == 0, 0).amax(1);
  }
  torch::Tensor lower = torch::zeros_like(b);
  for (int i = 0; i < kBisections; ++i) {
    const torch::Tensor middle = (lower + upper) / 2;
    const torch::Tensor reaches = (step(middle) * w).sum(1) >= b;
    upper = torch::where(reaches, middle, upper);
    lower = torch::where(reaches, lower, middle);
  }
  return step(upper).masked_fill((b <= 0).unsqueeze(1), 0);
}

torch::Tensor norm_of(const torch::Tensor& delta, Norm norm) {  // [N, d] → [N]
  return norm == Norm::kLinf ? delta.abs().amax(1) : delta.norm(2, 1);
}

struct TargetRun {
  torch::Tensor best;       // [n, d] closest misclassified point found (the clean x where none)
  torch::Tensor best_norm;  // [n] its distance (+inf where none)
};

// FAB towards `targets` on flat inputs x0 [n, d] (view `shape` for the model).
TargetRun fab_towards(Classifier& model, const torch::Tensor& x0, const std::vector<int64_t>& shape,
                      const torch::Tensor& labels, const torch::Tensor& targets,
                      const torch::Tensor& sample_ids, const AttackConfig& config,
                      int64_t target_index, Crafted& counts) {
  const int64_t n = x0.size(0);
  const Norm norm = config.norm;
  auto as_images = [&](const torch::Tensor& flat) {
    std::vector<int64_t> sizes = shape;
    sizes[0] = flat.size(0);
    return flat.view(sizes);
  };
  TargetRun run{x0.clone(),
                torch::full({n}, std::numeric_limits<double>::infinity(), x0.options())};
  const torch::Tensor ids = sample_ids.to(torch::kCPU, torch::kInt64).contiguous();
  for (int64_t restart = 0; restart < config.restarts; ++restart) {
    torch::Tensor x = x0.clone();
    if (restart > 0) {
      std::vector<torch::Tensor> draws;
      for (int64_t s = 0; s < n; ++s) {
        auto generator = at::detail::createCPUGenerator(sample_seed(
            config.seed, ids.data_ptr<int64_t>()[s], kFabStream + 97 * target_index + restart));
        draws.push_back(torch::rand({x0.size(1)}, generator) * 2 - 1);
      }
      torch::Tensor t = torch::stack(draws).to(x0.device(), x0.scalar_type());
      t = t / norm_of(t, norm).clamp_min(1e-12).unsqueeze(1);
      const torch::Tensor radius =
          torch::min(run.best_norm, torch::full_like(run.best_norm, config.epsilon));
      x = (x0 + 0.5 * radius.unsqueeze(1) * t).clamp(0, 1);
    }
    for (int64_t step = 0; step < config.steps; ++step) {
      torch::Tensor input = as_images(x).detach().requires_grad_(true);
      const torch::Tensor logits = model.forward(input);
      const torch::Tensor g = logits.gather(1, targets.unsqueeze(1)).squeeze(1) -
                              logits.gather(1, labels.unsqueeze(1)).squeeze(1);
      const torch::Tensor w = torch::autograd::grad({g.sum()}, {input})[0].view({n, -1});
      counts.forward_backward_passes += n;
      const torch::Tensor value = g.detach();
      torch::NoGradGuard no_grad;
      // Project x_k and x0 onto the linearised {g ≥ 0}: w·(y − x_k) ≥ −g.
      const torch::Tensor from_x = project_onto_halfspace(x, w, -value, norm);
      const torch::Tensor from_x0 =
          project_onto_halfspace(x0, w, -value - (w * (x0 - x)).sum(1), norm);
      const torch::Tensor size_x = norm_of(from_x, norm), size_x0 = norm_of(from_x0, norm);
      const torch::Tensor alpha =
          (size_x / (size_x + size_x0).clamp_min(1e-12)).clamp_max(config.alpha_max).unsqueeze(1);
      x = ((1 - alpha) * (x + config.eta * from_x) + alpha * (x0 + config.eta * from_x0))
              .clamp(0, 1);
      // Misclassified now? Keep the closest; step back towards x0.
      const torch::Tensor predicted = model.forward(as_images(x)).argmax(1);
      counts.forward_passes += n;
      const torch::Tensor fooled = predicted != labels;
      const torch::Tensor distance = norm_of(x - x0, norm);
      const torch::Tensor closer = fooled & (distance < run.best_norm);
      run.best = torch::where(closer.unsqueeze(1), x, run.best);
      run.best_norm = torch::where(closer, distance, run.best_norm);
      x = torch::where(fooled.unsqueeze(1), (1 - config.beta) * x0 + config.beta * x, x);
    }
  }
  return run;
}

Crafted craft(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
              const torch::Tensor& sample_ids, const AttackConfig& config) {
  model.set_training(false);
  const int64_t n = images.size(0);
  const std::vector<int64_t> shape(images.sizes().begin(), images.sizes().end());
  const torch::Tensor flat = images.reshape({n, -1});
  Crafted crafted{images.clone(), {}, 0, 0};
  torch::Tensor ranking;
  {
    torch::NoGradGuard no_grad;
    ranking = std::get<1>(model.forward(images).sort(1, /*descending=*/true));
    crafted.forward_passes += n;
  }
  torch::Tensor best = flat.clone();
  torch::Tensor best_norm =
      torch::full({n}, std::numeric_limits<double>::infinity(), flat.options());
  torch::Tensor unfooled = torch::arange(n, labels.options());
  const int64_t classes = ranking.size(1);
  for (int64_t target = 1; target <= std::min(config.target_classes, classes - 1); ++target) {
    if (unfooled.numel() == 0) break;  // one host synchronisation per target
    const TargetRun run =
        fab_towards(model, flat.index_select(0, unfooled), shape, labels.index_select(0, unfooled),
                    ranking.select(1, target).index_select(0, unfooled),
                    sample_ids.index_select(0, unfooled.cpu()), config, target, crafted);
    const torch::Tensor closer = run.best_norm < best_norm.index_select(0, unfooled);
    best.index_copy_(0, unfooled,
                     torch::where(closer.unsqueeze(1), run.best, best.index_select(0, unfooled)));
    best_norm.index_copy_(0, unfooled,
                          torch::where(closer, run.best_norm, best_norm.index_select(0, unfooled)));
    unfooled = unfooled.masked_select(best_norm.index_select(0, unfooled) > config.epsilon);
  }
  // Within ε: the closest point found; beyond: the clean input (not broken).
  const torch::Tensor within = (best_norm <= config.epsilon).unsqueeze(1);
  crafted.adversarial = torch::where(within, best, flat).view(images.sizes());
  return crafted;
}

PassCount cost(const AttackConfig& config) {
  const double runs = static_cast<double>(config.target_classes * config.restarts * config.steps);
  return {1 + runs, runs};
}

void check(const AttackConfig& config) {
  if (!(config.alpha_max >= 0 && config.alpha_max <= 1))
    throw Error::for_key("alpha_max", "must be in [0, 1], got " + format_number(config.alpha_max));
  if (!(config.eta >= 1 && config.eta <= 2))
    throw Error::for_key("eta", "must be in [1, 2], got " + format_number(config.eta));
  if (!(config.beta > 0 && config.beta < 1))
    throw Error::for_key("beta", "must be in (0, 1), got " + format_number(config.beta));
}

}  // namespace

AttackDefinition fab_t_attack() {
  AttackConfig defaults;  // AutoAttack's standard budget: 100 steps, 9 targets, 1 restart
  defaults.name = "fab-t";
  defaults.steps = 100;
  defaults.restarts = 1;
  defaults.target_classes = 9;
  return {"fab-t",
          AttackFamily::kWhiteBox,
          "Croce & Hein 2020",
          "minimum-norm boundary attack, per most likely other class (needs no step size)",
          {"norm", "epsilon", "steps", "restarts", "target_classes", "alpha_max", "eta", "beta",
           "seed"},
          {},
          {Norm::kLinf, Norm::kL2},
          defaults,
          check,
          cost,
          craft};
}

}  // namespace robustscope
