// Square Attack, L∞ (Andriushchenko, Croce, Flammarion & Hein 2020, Alg. 1): score-based random
// search that needs no gradient. Start from vertical stripes of ±ε; at iteration i draw a square of
// side s_i = round(√(p_i·H·W)) at a random place and give it, per channel, a random ±ε; keep the
// change where it lowers the margin z_t − max_{j≠t} z_j; stop a sample once the margin is negative.
// p_i follows the paper's schedule (p_init halved at 10, 50, 200, 500, 1000, 2000, 4000, 6000 and
// 8000 of 10,000 iterations, rescaled to the budget). One forward pass per iteration on the samples
// still unbroken. [ours] The draws of a sample come from its own generator (seed, sample id), all
// at once; a square that repeats the current one is not redrawn (the paper redraws it).
#include <torch/types.h>
#include <torch/utils.h>

#include <cmath>

#include "core/attack/attack.hpp"
#include "core/attack/objectives.hpp"

namespace robustscope {
namespace {

constexpr int64_t kSquareStream = 2000;  // apart from random starts and landscape directions

double schedule(double p_init, int64_t iteration, int64_t budget) {
  const double i = 10000.0 * static_cast<double>(iteration) / static_cast<double>(budget);
  const double halvings[] = {10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000};
  double p = p_init;
  for (double at : halvings)
    if (i > at) p /= 2;
  return p;
}

Crafted craft(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
              const torch::Tensor& sample_ids, const AttackConfig& config) {
  const int64_t n = images.size(0), channels = images.size(1), height = images.size(2),
                width = images.size(3);
  const double epsilon = config.epsilon;
  const auto options = images.options();
  model.set_training(false);
  torch::NoGradGuard no_grad;
  // Per sample: [budget + 1, 2 + channels] uniforms: the stripes' signs come from row 0, then each
  // iteration's square position (2) and per-channel signs.
  const int64_t draws_per_row = std::max<int64_t>(2 + channels, channels * width);
  std::vector<torch::Tensor> tables;
  const torch::Tensor ids_tensor = sample_ids.to(torch::kCPU, torch::kInt64).contiguous();
  const int64_t* ids = ids_tensor.data_ptr<int64_t>();
  for (int64_t s = 0; s < n; ++s) {
    auto generator =
        at::detail::createCPUGenerator(sample_seed(config.seed, ids[s], kSquareStream));
    tables.push_back(torch::rand({config.queries + 1, draws_per_row}, generator));
  }
  const torch::Tensor uniforms =
      torch::stack(tables).to(images.device(), options.dtype().toScalarType());
  // Vertical stripes: one sign per channel and column.
  const torch::Tensor stripes = (uniforms.select(1, 0).slice(1, 0, channels * width) < 0.5)
                                        .to(options.dtype().toScalarType()) *
                                    2 -
                                1;
  torch::Tensor delta =
      epsilon * stripes.view({n, channels, 1, width}).expand({n, channels, height, width});
  auto clipped = [&](const torch::Tensor& d) { return (images + d).clamp(0.0, 1.0); };
  torch::Tensor logits = model.forward(clipped(delta));
  torch::Tensor margin = logit_margin(logits, labels);
  Crafted crafted{torch::Tensor(), torch::Tensor(), n, 0};
  const torch::Tensor rows = torch::arange(height, options).view({1, 1, height, 1});
  const torch::Tensor columns = torch::arange(width, options).view({1, 1, 1, width});
  for (int64_t iteration = 1; iteration <= config.queries; ++iteration) {
    const torch::Tensor active = (margin >= 0).nonzero().squeeze(1);  // one sync per iteration
    if (active.numel() == 0) break;
    const double p = schedule(config.p_init, iteration - 1, config.queries);
    const int64_t side =
        std::clamp<int64_t>(static_cast<int64_t>(std::lround(std::sqrt(p * height * width))), 1,
                            std::min(height, width) - 1);
    const torch::Tensor row = uniforms.index_select(0, active).select(1, iteration);
    const torch::Tensor top = (row.select(1, 0) * (height - side + 1))
                                  .floor()
                                  .clamp_max(height - side)
                                  .view({-1, 1, 1, 1});
    const torch::Tensor left =
        (row.select(1, 1) * (width - side + 1)).floor().clamp_max(width - side).view({-1, 1, 1, 1});
    const torch::Tensor square =
        (rows >= top) & (rows < top + side) & (columns >= left) & (columns < left + side);
    const torch::Tensor signs =
        ((row.slice(1, 2, 2 + channels) < 0.5).to(delta.scalar_type()) * 2 - 1)
            .view({-1, channels, 1, 1}) *
        epsilon;
    const torch::Tensor current = delta.index_select(0, active);
    const torch::Tensor proposal = torch::where(square, signs, current);
    const torch::Tensor proposal_logits =
        model.forward((images.index_select(0, active) + proposal).clamp(0.0, 1.0));
    crafted.forward_passes += active.numel();
    const torch::Tensor new_margin = logit_margin(proposal_logits, labels.index_select(0, active));
    const torch::Tensor better = new_margin < margin.index_select(0, active);
    delta.index_copy_(0, active, torch::where(better.view({-1, 1, 1, 1}), proposal, current));
    margin.index_copy_(0, active, torch::where(better, new_margin, margin.index_select(0, active)));
    logits.index_copy_(
        0, active,
        torch::where(better.unsqueeze(1), proposal_logits, logits.index_select(0, active)));
  }
  crafted.adversarial = clipped(delta);
  crafted.logits = logits;
  return crafted;
}

void check(const AttackConfig& config) {
  if (!(config.p_init > 0 && config.p_init <= 1))
    throw Error::for_key("p_init", "must be in (0, 1], got " + format_number(config.p_init));
}

PassCount cost(const AttackConfig& config) {
  return {1.0 + static_cast<double>(config.queries), 0};
}

}  // namespace

AttackDefinition square_attack() {
  AttackConfig defaults;
  defaults.name = "square";
  defaults.queries = 5000;
  defaults.p_init = 0.8;
  defaults.random_start = RandomStart::kNone;
  return {"square",
          AttackFamily::kBlackBox,
          "Andriushchenko et al. 2020",
          "score-based random search on the margin: forward passes only, no gradient",
          {"norm", "epsilon", "queries", "p_init", "seed"},
          {{"loss", "margin"}},
          {Norm::kLinf},
          defaults,
          check,
          cost,
          craft};
}

}  // namespace robustscope
