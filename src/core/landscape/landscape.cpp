// Input-space surfaces: directions, cuts, grids and the derived numbers.
#include "core/landscape/landscape.hpp"

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "core/attack/attack_ascent.hpp"
#include "core/attack/objectives.hpp"
#include "core/error.hpp"
#include "core/metric/divergence.hpp"

namespace robustscope {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();
constexpr int64_t kRandomDirectionStream = 1000;  // keeps d2's stream apart from random starts

// d = δ/‖δ‖∞ for the perturbation that reaches `maximiser`.
torch::Tensor towards(const torch::Tensor& maximiser, const torch::Tensor& x0, const char* what) {
  const torch::Tensor delta = (maximiser - x0)[0];
  const double largest = delta.abs().max().item<double>();
  if (!(largest > 0)) {
    throw Error("adversarial_direction", std::string(what) + " found no perturbation to follow");
  }
  return delta / largest;
}

}  // namespace

const EnumNames<AdversarialDirection>& adversarial_direction_names() {
  static const EnumNames<AdversarialDirection> kNames(
      {{AdversarialDirection::kSign, "sign"},
       {AdversarialDirection::kGradient, "gradient"},
       {AdversarialDirection::kPgd, "pgd"},
       {AdversarialDirection::kMetric, "metric"}});
  return kNames;
}

const EnumNames<RandomDirection>& random_direction_names() {
  static const EnumNames<RandomDirection> kNames(
      {{RandomDirection::kRademacher, "rademacher"}, {RandomDirection::kGaussian, "gaussian"}});
  return kNames;
}

namespace {

const SettingTable<LandscapeConfig>& landscape_settings() {
  static const SettingTable<LandscapeConfig> kTable = [] {
    SettingTable<LandscapeConfig> table;
    table
        .choice("adversarial_direction", &LandscapeConfig::adversarial_direction,
                adversarial_direction_names(), "d1")
        .choice("direction_loss", &LandscapeConfig::direction_loss, loss_names(),
                "the loss of the sign/gradient direction (ce or margin)")
        .choice("random_direction", &LandscapeConfig::random_direction, random_direction_names(),
                "d2")
        .number("epsilon", &LandscapeConfig::epsilon, "reference radius ε")
        .number("range", &LandscapeConfig::range, "span [-range, range] (0: 3ε)")
        .integer("resolution_1d", &LandscapeConfig::resolution_1d, "points per cut (odd)")
        .integer("resolution_2d", &LandscapeConfig::resolution_2d, "grid points per side (odd)")
        .flag("clip", &LandscapeConfig::clip, "clip points to [0,1]")
        .integer("chunk_size", &LandscapeConfig::chunk_size, "points per forward pass")
        .seed("seed", &LandscapeConfig::seed, "seed of the random direction");
    return table;
  }();
  return kTable;
}

}  // namespace

void LandscapeConfig::set(const std::string& key, const std::string& value) {
  if (key.rfind("pgd.", 0) == 0) {
    try {
      set_attack_setting(pgd, key.substr(4), value);
    } catch (const Error& error) {
      Location location = error.location();
      location.key = "pgd." + location.key;
      throw Error(location, error.message());
    }
    return;
  }
  if (key.rfind("metric.", 0) == 0) {
    try {
      metric.set(key.substr(7), value);
    } catch (const Error& error) {
      Location location = error.location();
      location.key = "metric." + location.key;
      throw Error(location, error.message());
    }
    return;
  }
  if (!landscape_settings().find(key)) {
    std::vector<std::string> known = landscape_settings().keys();
    known.push_back("pgd.*");
    known.push_back("metric.*");
    throw Error::unknown_key("landscape setting", key, join(known));
  }
  landscape_settings().set(*this, "landscape setting", key, value);
}

void LandscapeConfig::validate() const {
  if (direction_loss != Loss::kCrossEntropy && direction_loss != Loss::kMargin)
    throw Error::for_key("direction_loss", "\"" + loss_names().name(direction_loss) +
                                               "\" cannot be used (known: ce, margin)");
  if (!(epsilon > 0) || !std::isfinite(epsilon)) {
    throw Error::for_key("epsilon", "must be a finite number > 0, got " + format_number(epsilon));
  }
  if (!(range >= 0) || !std::isfinite(range)) {
    throw Error::for_key("range", "must be >= 0 (0: 3·epsilon), got " + format_number(range));
  }
  for (const auto& [key, value] :
       {std::pair{"resolution_1d", resolution_1d}, std::pair{"resolution_2d", resolution_2d}}) {
    if (value < 3 || value % 2 == 0 || value > 100001) {
      throw Error::for_key(
          key, "must be odd and in 3..100001 (the centre is x0), got " + std::to_string(value));
    }
  }
  if (chunk_size < 1 || chunk_size > (int64_t{1} << 24))
    throw Error::for_key("chunk_size", "must be in 1..16777216, got " + std::to_string(chunk_size));
  AttackConfig attack = pgd;
  attack.epsilon = epsilon;
  try {
    validate_attack(attack);
  } catch (const Error& error) {
    Location location = error.location();
    location.key = "pgd." + location.key;
    throw Error(location, error.message());
  }
  try {
    metric.validate();
  } catch (const Error& error) {
    Location location = error.location();
    location.key = "metric." + location.key;
    throw Error(location, error.message());
  }
}

SettingEntries LandscapeConfig::entries() const {
  SettingEntries entries;
  for (const auto& entry : landscape_settings().entries()) entries[entry.key] = entry.value(*this);
  entries["range"] = effective_range();
  const SettingEntries metric_entries = metric.entries();
  for (const char* key : {"divergence", "normalization", "tau"})
    entries[std::string("metric.") + key] = metric_entries.at(key);
  if (adversarial_direction == AdversarialDirection::kPgd) {
    AttackConfig attack = pgd;
    attack.epsilon = epsilon;
    for (const auto& [key, value] : attack_entries(attack)) entries["pgd." + key] = value;
  }
  if (adversarial_direction == AdversarialDirection::kMetric) {
    for (const auto& [key, value] : metric_entries)
      if (key != "epsilon") entries["metric." + key] = value;
  }
  return entries;
}

const std::vector<std::string>& landscape_quantities() {
  static const std::vector<std::string> kQuantities = {
      "cross_entropy", "decision", "probability_margin", "divergence", "predicted_class"};
  return kQuantities;
}

Directions landscape_directions(Classifier& model, const torch::Tensor& x0, int64_t label,
                                int64_t sample_id, const LandscapeConfig& config) {
  model.set_training(false);
  const torch::Tensor labels =
      torch::full({1}, label, torch::dtype(torch::kInt64).device(x0.device()));
  const torch::Tensor ids = torch::full({1}, sample_id, torch::kInt64);
  Directions directions;
  if (config.adversarial_direction == AdversarialDirection::kSign ||
      config.adversarial_direction == AdversarialDirection::kGradient) {
    torch::Tensor input = x0.detach().requires_grad_(true);
    const torch::Tensor logits = model.forward(input);
    // margin: the decision surface falling; unlike the cross-entropy it does not saturate, so it
    // still has a gradient where a distilled model's softmax is one-hot in float32.
    const torch::Tensor loss = config.direction_loss == Loss::kMargin
                                   ? -logit_margin(logits, labels).sum()
                                   : torch::cross_entropy_loss(logits, labels);
    const torch::Tensor gradient = torch::autograd::grad({loss}, {input})[0][0];
    if (!(gradient.abs().max().item<double>() > 0)) {
      throw Error("adversarial_direction",
                  "the " + loss_names().name(config.direction_loss) +
                      " gradient is zero at sample " + std::to_string(sample_id) +
                      ": no direction (a saturated softmax? try direction_loss: margin)");
    }
    directions.adversarial = config.adversarial_direction == AdversarialDirection::kSign
                                 ? gradient.sign()
                                 : gradient / gradient.norm();
  } else if (config.adversarial_direction == AdversarialDirection::kPgd) {
    AttackConfig attack = config.pgd;
    attack.epsilon = config.epsilon;
    const AscentResult result = fixed_step_ascent(model, x0, labels, ids, attack, false);
    directions.adversarial = towards(result.best_x, x0, "PGD");
  } else {
    MetricConfig metric = config.metric;
    metric.epsilon = config.epsilon;
    directions.adversarial =
        towards(compute_metric(model, x0, ids, metric).maximiser, x0, "the metric");
  }
  // d2: seeded per sample, made orthogonal to d1 (Gram–Schmidt) and rescaled to ‖d1‖₂.
  auto generator =
      at::detail::createCPUGenerator(sample_seed(config.seed, sample_id, kRandomDirectionStream));
  const auto shape = x0.sizes().slice(1);
  torch::Tensor random = config.random_direction == RandomDirection::kRademacher
                             ? torch::randint(0, 2, shape, generator, torch::kFloat32) * 2 - 1
                             : torch::randn(shape, generator);
  random = random.to(x0.device(), x0.scalar_type());
  const torch::Tensor d1 = directions.adversarial;
  random = random - (random * d1).sum() / (d1 * d1).sum() * d1;
  directions.random = random * (d1.norm() / random.norm());
  return directions;
}

namespace {

// The quantities at `points` [P, C, H, W] against the clean prediction, in chunks: [Q, P] on the
// model's device (no copy to the host, so a GPU never waits per chunk).
torch::Tensor quantities_on_device(Classifier& model, const torch::Tensor& clean_log_probs,
                                   int64_t label, const torch::Tensor& points,
                                   const LandscapeConfig& config) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> columns;
  for (int64_t start = 0; start < points.size(0); start += config.chunk_size) {
    const torch::Tensor chunk = points.slice(0, start, start + config.chunk_size);
    const torch::Tensor logits = model.forward(chunk);
    const int64_t n = chunk.size(0);
    const torch::Tensor labels =
        torch::full({n}, label, torch::dtype(torch::kInt64).device(logits.device()));
    const torch::Tensor probabilities = torch::softmax(logits, 1);
    columns.push_back(torch::stack({
        torch::nn::functional::cross_entropy(
            logits, labels,
            torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone)),
        logit_margin(logits, labels),
        logit_margin(probabilities, labels),
        divergence(clean_log_probs.expand({n, -1}),
                   normalized_log_probs(logits, config.metric.normalization, config.metric.tau),
                   config.metric.divergence),
        logits.argmax(1).to(logits.scalar_type()),
    }));
  }
  return torch::cat(columns, 1);
}

torch::Tensor clean_log_probs_of(Classifier& model, const torch::Tensor& x0,
                                 const LandscapeConfig& config) {
  torch::NoGradGuard no_grad;
  model.set_training(false);
  return normalized_log_probs(model.forward(x0), config.metric.normalization, config.metric.tau);
}

}  // namespace

torch::Tensor landscape_quantities_at(Classifier& model, const torch::Tensor& x0, int64_t label,
                                      const torch::Tensor& points, const LandscapeConfig& config) {
  return quantities_on_device(model, clean_log_probs_of(model, x0, config), label, points, config)
      .cpu();
}

double first_zero_distance(const torch::Tensor& coordinates, const torch::Tensor& values,
                           int direction) {
  const auto c = coordinates.to(torch::kFloat64).contiguous();
  const auto v = values.to(torch::kFloat64).contiguous();
  const double* coordinate = c.data_ptr<double>();
  const double* value = v.data_ptr<double>();
  const int64_t centre = c.size(0) / 2;
  if (value[centre] <= 0) return 0.0;
  for (int64_t i = centre + direction; i >= 0 && i < c.size(0); i += direction) {
    if (value[i] <= 0) {
      const int64_t previous = i - direction;
      const double t = value[previous] / (value[previous] - value[i]);
      return std::abs(coordinate[previous] + t * (coordinate[i] - coordinate[previous]) -
                      coordinate[centre]);
    }
  }
  return kInfinity;
}

LandscapeResult compute_landscape(Classifier& model, const torch::Tensor& x0, int64_t label,
                                  int64_t sample_id, const LandscapeConfig& config) {
  config.validate();
  LandscapeResult result;
  result.directions = landscape_directions(model, x0, label, sample_id, config);
  result.forward_backward_passes = 1;
  const double range = config.effective_range();
  const auto options = x0.options();
  const torch::Tensor d1 = result.directions.adversarial.unsqueeze(0);
  const torch::Tensor d2 = result.directions.random.unsqueeze(0);
  const torch::Tensor clean_log_probs = clean_log_probs_of(model, x0, config);
  result.forward_passes = 1;
  auto plane = [&](const torch::Tensor& alphas, const torch::Tensor& betas) {
    // Points are built one chunk at a time, so memory stays at chunk_size images whatever the grid.
    const torch::Tensor alphas_on_device = alphas.to(options);
    const torch::Tensor betas_on_device = betas.to(options);
    std::vector<torch::Tensor> parts;
    for (int64_t start = 0; start < alphas.size(0); start += config.chunk_size) {
      const torch::Tensor a =
          alphas_on_device.slice(0, start, start + config.chunk_size).view({-1, 1, 1, 1});
      const torch::Tensor b =
          betas_on_device.slice(0, start, start + config.chunk_size).view({-1, 1, 1, 1});
      torch::Tensor points = x0 + a * d1 + b * d2;
      if (config.clip) points = points.clamp(0.0, 1.0);
      parts.push_back(quantities_on_device(model, clean_log_probs, label, points, config));
      result.forward_passes += points.size(0);
    }
    return torch::cat(parts, 1);
  };
  result.coordinates_1d = torch::linspace(-range, range, config.resolution_1d, torch::kFloat64);
  const torch::Tensor zeros_1d = torch::zeros_like(result.coordinates_1d);
  const int64_t n = config.resolution_2d;
  result.coordinates_2d = torch::linspace(-range, range, n, torch::kFloat64);
  const torch::Tensor alphas = result.coordinates_2d.repeat_interleave(n);
  const torch::Tensor betas = result.coordinates_2d.repeat({n});
  // The two cuts and the grid, copied to the host once.
  const torch::Tensor all =
      torch::cat({plane(result.coordinates_1d, zeros_1d), plane(zeros_1d, result.coordinates_1d),
                  plane(alphas, betas)},
                 1)
          .cpu();
  const int64_t n1 = config.resolution_1d;
  result.cut_adversarial = all.slice(1, 0, n1).contiguous();
  result.cut_random = all.slice(1, n1, 2 * n1).contiguous();
  result.grid = all.slice(1, 2 * n1).reshape({-1, n, n}).contiguous();

  const int64_t decision = 1, predicted = 4;
  result.boundary_adversarial_positive =
      first_zero_distance(result.coordinates_1d, result.cut_adversarial[decision], +1);
  result.boundary_adversarial_negative =
      first_zero_distance(result.coordinates_1d, result.cut_adversarial[decision], -1);
  result.boundary_random_positive =
      first_zero_distance(result.coordinates_1d, result.cut_random[decision], +1);
  result.boundary_random_negative =
      first_zero_distance(result.coordinates_1d, result.cut_random[decision], -1);
  const torch::Tensor radius = (alphas.pow(2) + betas.pow(2)).sqrt().view({n, n});
  const torch::Tensor within = radius <= config.epsilon + 1e-12;
  const torch::Tensor correct = result.grid[predicted].eq(static_cast<double>(label));
  result.correct_fraction_within_epsilon =
      (correct & within).sum().item<double>() / within.sum().item<double>();
  // Finite-difference slopes of S between neighbouring cut points that both lie within ε.
  const torch::Tensor inside = result.coordinates_1d.abs() <= config.epsilon + 1e-12;
  const torch::Tensor pair_inside = inside.slice(0, 1) & inside.slice(0, 0, -1);
  const double spacing = (result.coordinates_1d[1] - result.coordinates_1d[0]).item<double>();
  std::vector<torch::Tensor> slopes;
  for (const torch::Tensor& cut : {result.cut_adversarial[decision], result.cut_random[decision]}) {
    const torch::Tensor differences = (cut.slice(0, 1) - cut.slice(0, 0, -1)).abs() / spacing;
    slopes.push_back(differences.masked_select(pair_inside));
  }
  const torch::Tensor all_slopes = torch::cat(slopes);
  result.mean_abs_slope =
      all_slopes.numel() ? all_slopes.to(torch::kFloat64).mean().item<double>() : 0.0;
  return result;
}

}  // namespace robustscope
