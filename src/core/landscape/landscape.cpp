// Input-space surfaces: directions, cuts, grids and the derived numbers.
#include "core/landscape/landscape.hpp"

#include <torch/autograd.h>
#include <torch/nn/functional/loss.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <utility>
#include <vector>

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

const EnumNames<LandscapeSampling>& landscape_sampling_names() {
  static const EnumNames<LandscapeSampling> kNames(
      {{LandscapeSampling::kUniform, "uniform"}, {LandscapeSampling::kAdaptive, "adaptive"}});
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
        .choice("sampling", &LandscapeConfig::sampling, landscape_sampling_names(),
                "uniform | adaptive (refined where S changes sign)")
        .number("boundary_tolerance", &LandscapeConfig::boundary_tolerance,
                "adaptive: bracket width at S = 0, as a fraction of range")
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
  if (!(boundary_tolerance > 0 && boundary_tolerance <= 0.5)) {
    throw Error::for_key("boundary_tolerance", "must be in (0, 0.5] (a fraction of range), got " +
                                                   format_number(boundary_tolerance));
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
  if (sampling == LandscapeSampling::kUniform) {
    entries.erase("sampling");
    entries.erase("boundary_tolerance");
  }
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
    const double largest = gradient.abs().max().item<double>();
    if (!std::isfinite(largest)) {
      throw Error("adversarial_direction", "the " + loss_names().name(config.direction_loss) +
                                               " gradient is not finite at sample " +
                                               std::to_string(sample_id) + " (NaN or inf)");
    }
    if (!(largest > 0)) {
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
  const int64_t centre = c.abs().argmin().item<int64_t>();
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

namespace {

constexpr int64_t kDecision = 1, kPredicted = 4;  // rows of landscape_quantities()

// The quantities at x0 + α·d1 + β·d2 for coordinate lists α, β (float64 on the host): [Q, P] on
// the host. Points are built one chunk at a time, so memory stays at chunk_size images whatever
// the number of points.
using PlaneEvaluator = std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>;

bool positive(double decision) { return decision > 0; }  // S ≤ 0: on or past the boundary

// Adaptive cuts: bisects every sign change of S between neighbouring points of the cut until its
// bracket is at most `width` wide, all brackets of a round in one batch; returns the cut's points
// and values with the new ones merged in, ordered by coordinate.
std::pair<torch::Tensor, torch::Tensor> refine_cut(
    const torch::Tensor& coordinates, const torch::Tensor& values, double width,
    const std::function<torch::Tensor(const torch::Tensor&)>& evaluate) {
  struct Bracket {
    double low, high;
    bool low_positive;
  };
  const auto c = coordinates.to(torch::kFloat64).contiguous();
  const auto v = values[kDecision].to(torch::kFloat64).contiguous();
  const double* coordinate = c.data_ptr<double>();
  const double* decision = v.data_ptr<double>();
  std::vector<Bracket> brackets;
  for (int64_t i = 0; i + 1 < c.size(0); ++i) {
    if (positive(decision[i]) != positive(decision[i + 1]))
      brackets.push_back({coordinate[i], coordinate[i + 1], positive(decision[i])});
  }
  std::vector<torch::Tensor> all_coordinates{c}, all_values{values};
  while (true) {
    std::vector<Bracket> open;
    for (const Bracket& bracket : brackets)
      if (bracket.high - bracket.low > width) open.push_back(bracket);
    if (open.empty()) break;
    std::vector<double> midpoints;
    for (const Bracket& bracket : open) midpoints.push_back(0.5 * (bracket.low + bracket.high));
    const torch::Tensor middle = torch::tensor(midpoints, torch::kFloat64);
    const torch::Tensor measured = evaluate(middle);
    const auto middle_decision = measured[kDecision].to(torch::kFloat64).contiguous();
    const double* s = middle_decision.data_ptr<double>();
    for (size_t k = 0; k < open.size(); ++k) {
      if (positive(s[k]) == open[k].low_positive)
        open[k].low = midpoints[k];
      else
        open[k].high = midpoints[k];
    }
    brackets = std::move(open);
    all_coordinates.push_back(middle);
    all_values.push_back(measured);
  }
  const torch::Tensor merged = torch::cat(all_coordinates);
  const torch::Tensor order = merged.argsort();
  return {merged.index_select(0, order), torch::cat(all_values, 1).index_select(1, order)};
}

// Adaptive grid: cells of the coarse grid whose four corners disagree on the sign of S are split
// into four, level by level (one batch per level), and the children that still disagree split
// again, until cells are at most `width` wide. Points lie on the lattice of the finest level, so a
// point shared by neighbouring cells is evaluated once. Returns the new points [R, 2] (α, β) and
// their values [Q, R].
std::pair<torch::Tensor, torch::Tensor> refine_grid(const torch::Tensor& coarse_decision,
                                                    double range, double width,
                                                    const PlaneEvaluator& plane) {
  const int64_t n = coarse_decision.size(0);
  const double coarse_spacing = 2 * range / static_cast<double>(n - 1);
  int levels = 0;
  while (levels < 30 && coarse_spacing / std::ldexp(1.0, levels) > width) ++levels;
  const int64_t scale = int64_t{1} << levels;
  const double spacing = coarse_spacing / static_cast<double>(scale);
  const auto coarse = coarse_decision.to(torch::kFloat64).contiguous();
  const double* coarse_s = coarse.data_ptr<double>();
  std::map<std::pair<int64_t, int64_t>, bool> refined_sign;  // lattice point → S > 0
  const auto sign_at = [&](int64_t i, int64_t j) {
    if (i % scale == 0 && j % scale == 0) return positive(coarse_s[(i / scale) * n + j / scale]);
    return refined_sign.at({i, j});
  };
  const auto straddles = [&](int64_t i, int64_t j, int64_t size) {
    const bool corner = sign_at(i, j);
    return sign_at(i + size, j) != corner || sign_at(i, j + size) != corner ||
           sign_at(i + size, j + size) != corner;
  };
  std::vector<std::pair<int64_t, int64_t>> cells;  // lower-left lattice corners
  for (int64_t i = 0; i + 1 < n; ++i)
    for (int64_t j = 0; j + 1 < n; ++j)
      if (straddles(i * scale, j * scale, scale)) cells.push_back({i * scale, j * scale});
  std::vector<double> alphas, betas;
  std::vector<torch::Tensor> values;
  for (int64_t size = scale; size > 1 && !cells.empty(); size /= 2) {
    const int64_t half = size / 2;
    std::vector<std::pair<int64_t, int64_t>> fresh;
    for (const auto& [i, j] : cells) {
      for (const auto& point :
           {std::pair{i + half, j}, std::pair{i, j + half}, std::pair{i + size, j + half},
            std::pair{i + half, j + size}, std::pair{i + half, j + half}}) {
        if (refined_sign.emplace(point, false).second) fresh.push_back(point);
      }
    }
    std::vector<double> fresh_alphas, fresh_betas;
    for (const auto& [i, j] : fresh) {
      fresh_alphas.push_back(-range + static_cast<double>(i) * spacing);
      fresh_betas.push_back(-range + static_cast<double>(j) * spacing);
    }
    const torch::Tensor measured = plane(torch::tensor(fresh_alphas, torch::kFloat64),
                                         torch::tensor(fresh_betas, torch::kFloat64));
    const auto decision = measured[kDecision].to(torch::kFloat64).contiguous();
    for (size_t k = 0; k < fresh.size(); ++k)
      refined_sign[fresh[k]] = positive(decision.data_ptr<double>()[k]);
    alphas.insert(alphas.end(), fresh_alphas.begin(), fresh_alphas.end());
    betas.insert(betas.end(), fresh_betas.begin(), fresh_betas.end());
    values.push_back(measured);
    std::vector<std::pair<int64_t, int64_t>> children;
    for (const auto& [i, j] : cells) {
      for (const auto& child : {std::pair{i, j}, std::pair{i + half, j}, std::pair{i, j + half},
                                std::pair{i + half, j + half}}) {
        if (straddles(child.first, child.second, half)) children.push_back(child);
      }
    }
    cells = std::move(children);
  }
  const int64_t quantities = static_cast<int64_t>(landscape_quantities().size());
  if (values.empty()) {
    return {torch::zeros({0, 2}, torch::kFloat64), torch::zeros({quantities, 0}, torch::kFloat32)};
  }
  return {torch::stack(
              {torch::tensor(alphas, torch::kFloat64), torch::tensor(betas, torch::kFloat64)}, 1),
          torch::cat(values, 1)};
}

// Mean |dS/dα| between neighbouring points of a cut that both lie within ε.
void add_slopes(const torch::Tensor& coordinates, const torch::Tensor& decision, double epsilon,
                std::vector<torch::Tensor>& slopes) {
  const torch::Tensor inside = coordinates.abs() <= epsilon + 1e-12;
  const torch::Tensor pair_inside = inside.slice(0, 1) & inside.slice(0, 0, -1);
  const torch::Tensor spacing = coordinates.slice(0, 1) - coordinates.slice(0, 0, -1);
  const torch::Tensor differences =
      (decision.slice(0, 1) - decision.slice(0, 0, -1)).to(torch::kFloat64).abs() / spacing;
  slopes.push_back(differences.masked_select(pair_inside));
}

}  // namespace

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
  // On the device: the uniform cuts and grid are evaluated together and copied to the host once.
  const auto plane_on_device = [&](const torch::Tensor& alphas, const torch::Tensor& betas) {
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
  const PlaneEvaluator plane = [&](const torch::Tensor& alphas, const torch::Tensor& betas) {
    return plane_on_device(alphas, betas).cpu();
  };
  result.coordinates_1d = torch::linspace(-range, range, config.resolution_1d, torch::kFloat64);
  const torch::Tensor zeros_1d = torch::zeros_like(result.coordinates_1d);
  const int64_t n = config.resolution_2d;
  result.coordinates_2d = torch::linspace(-range, range, n, torch::kFloat64);
  const torch::Tensor alphas = result.coordinates_2d.repeat_interleave(n);
  const torch::Tensor betas = result.coordinates_2d.repeat({n});
  const torch::Tensor all =
      torch::cat({plane_on_device(result.coordinates_1d, zeros_1d),
                  plane_on_device(zeros_1d, result.coordinates_1d), plane_on_device(alphas, betas)},
                 1)
          .cpu();
  const int64_t n1 = config.resolution_1d;
  result.cut_adversarial = all.slice(1, 0, n1).contiguous();
  result.cut_random = all.slice(1, n1, 2 * n1).contiguous();
  result.grid = all.slice(1, 2 * n1).reshape({-1, n, n}).contiguous();
  result.coordinates_adversarial = result.coordinates_1d;
  result.coordinates_random = result.coordinates_1d;
  const int64_t quantities = all.size(0);
  result.refined_points = torch::zeros({0, 2}, torch::kFloat64);
  result.refined_grid = torch::zeros({quantities, 0}, all.scalar_type());
  result.adaptive = config.sampling == LandscapeSampling::kAdaptive;
  if (result.adaptive) {
    const double width = config.boundary_tolerance * range;
    std::tie(result.coordinates_adversarial, result.cut_adversarial) =
        refine_cut(result.coordinates_1d, result.cut_adversarial, width,
                   [&](const torch::Tensor& at) { return plane(at, torch::zeros_like(at)); });
    std::tie(result.coordinates_random, result.cut_random) =
        refine_cut(result.coordinates_1d, result.cut_random, width,
                   [&](const torch::Tensor& at) { return plane(torch::zeros_like(at), at); });
    std::tie(result.refined_points, result.refined_grid) =
        refine_grid(result.grid[kDecision], range, width, plane);
  }

  result.boundary_adversarial_positive =
      first_zero_distance(result.coordinates_adversarial, result.cut_adversarial[kDecision], +1);
  result.boundary_adversarial_negative =
      first_zero_distance(result.coordinates_adversarial, result.cut_adversarial[kDecision], -1);
  result.boundary_random_positive =
      first_zero_distance(result.coordinates_random, result.cut_random[kDecision], +1);
  result.boundary_random_negative =
      first_zero_distance(result.coordinates_random, result.cut_random[kDecision], -1);
  const torch::Tensor radius = (alphas.pow(2) + betas.pow(2)).sqrt().view({n, n});
  const torch::Tensor within = radius <= config.epsilon + 1e-12;
  const torch::Tensor correct = result.grid[kPredicted].eq(static_cast<double>(label));
  result.correct_fraction_within_epsilon =
      (correct & within).sum().item<double>() / within.sum().item<double>();
  std::vector<torch::Tensor> slopes;
  add_slopes(result.coordinates_adversarial, result.cut_adversarial[kDecision], config.epsilon,
             slopes);
  add_slopes(result.coordinates_random, result.cut_random[kDecision], config.epsilon, slopes);
  const torch::Tensor all_slopes = torch::cat(slopes);
  result.mean_abs_slope = all_slopes.numel() ? all_slopes.mean().item<double>() : 0.0;
  return result;
}

}  // namespace robustscope
