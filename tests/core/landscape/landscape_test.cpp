// Landscapes: grid points against direct evaluation, the analytic linear case, directions and
// seeds.
#include <gtest/gtest.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <cmath>
#include <utility>
#include <vector>

#include "core/attack/objectives.hpp"
#include "core/landscape/landscape.hpp"
#include "core/runtime/device.hpp"
#include "support/models.hpp"
#include "support/temp_dir.hpp"
#include "support/tensor_assertions.hpp"

namespace robustscope {
namespace {

BuiltinClassifier small_cnn() {
  BuiltinClassifier model(ArchitectureConfig::for_dataset("small-cnn", dataset_info("mnist"),
                                                          {{"channels", 4}, {"hidden", 16}}));
  testing::redraw_parameters(model, 4);
  model.set_training(false);
  return model;
}

torch::Tensor mnist_like_input(uint64_t seed) {
  auto generator = at::detail::createCPUGenerator(seed);
  return torch::rand({1, 1, 28, 28}, generator);
}

int64_t predicted_class(BuiltinClassifier& model, const torch::Tensor& x0) {
  torch::NoGradGuard no_grad;
  return model.forward(x0).argmax(1).item<int64_t>();
}

LandscapeConfig small_config() {
  LandscapeConfig config;
  config.epsilon = 0.1;
  config.resolution_1d = 11;
  config.resolution_2d = 7;
  return config;
}

TEST(Landscape, GridPointsEqualDirectEvaluationAndTheCentreIsTheCleanInput) {
  BuiltinClassifier model = small_cnn();
  const torch::Tensor x0 = mnist_like_input(1);
  const LandscapeConfig config = small_config();
  const LandscapeResult result = compute_landscape(model, x0, 3, 17, config);
  ASSERT_EQ(result.grid.sizes(), torch::IntArrayRef({5, 7, 7}));
  const torch::Tensor d1 = result.directions.adversarial, d2 = result.directions.random;
  for (const auto& [i, j] : {std::pair{0, 6}, std::pair{2, 5}, std::pair{6, 0}, std::pair{4, 4}}) {
    const double alpha = result.coordinates_2d[i].item<double>(),
                 beta = result.coordinates_2d[j].item<double>();
    const torch::Tensor point = (x0 + alpha * d1 + beta * d2).clamp(0, 1);
    const torch::Tensor direct = landscape_quantities_at(model, x0, 3, point, config);
    EXPECT_TENSORS_CLOSE(result.grid.select(1, i).select(1, j), direct.squeeze(1), 1e-6, 1e-5)
        << "grid point (" << i << ", " << j << ")";
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor logits = model.forward(x0);
  const torch::Tensor label = torch::tensor({3});
  const torch::Tensor centre = result.grid.select(1, 3).select(1, 3);
  EXPECT_NEAR(centre[0].item<double>(), torch::cross_entropy_loss(logits, label).item<double>(),
              1e-5);
  EXPECT_NEAR(centre[1].item<double>(), logit_margin(logits, label).item<double>(), 1e-5);
  EXPECT_NEAR(centre[3].item<double>(), 0.0, 1e-6);  // no divergence from itself
  EXPECT_EQ(centre[4].item<double>(), logits.argmax(1).item<double>());
  EXPECT_TENSORS_CLOSE(result.cut_adversarial.select(1, 5), centre, 1e-6, 1e-5);
  EXPECT_TENSORS_CLOSE(result.cut_random.select(1, 5), centre, 1e-6, 1e-5);
}

TEST(Landscape, LinearModelDecisionSurfaceAlongTheSignDirectionIsLinearWithTheAnalyticSlope) {
  BuiltinClassifier model = testing::linear_model(4, 5, 2, 9);
  const auto [weight, bias] = testing::linear_weights(model);
  auto generator = at::detail::createCPUGenerator(3);
  const torch::Tensor x0 = 0.4 + 0.2 * torch::rand({1, 1, 4, 5}, generator);
  const int64_t label = predicted_class(model, x0);
  LandscapeConfig config = small_config();
  config.epsilon = 0.02;
  config.resolution_1d = 101;  // several cut points within ε for the slope
  config.range = 0.3;  // wide enough for the boundary, narrow enough that clipping never binds
  const LandscapeResult result = compute_landscape(model, x0, label, 0, config);
  const torch::Tensor w_difference = weight[1 - label] - weight[label];
  const double slope = -w_difference.abs().sum().item<double>();
  const double s0 = logit_margin(model.forward(x0).detach(), torch::tensor({label})).item<double>();
  const torch::Tensor expected = s0 + slope * result.coordinates_1d.to(torch::kFloat32);
  EXPECT_TENSORS_CLOSE(result.cut_adversarial[1], expected, 1e-4, 1e-4);
  // The boundary along +d1 lies at S0/‖w_j − w_t‖₁, found by interpolation.
  if (s0 / -slope < 0.3) {
    EXPECT_NEAR(result.boundary_adversarial_positive, s0 / -slope, 1e-4);
  } else {
    EXPECT_TRUE(std::isinf(result.boundary_adversarial_positive));
  }
  EXPECT_NEAR(
      result.mean_abs_slope,
      0.5 * (-slope + (result.cut_random[1][51] - result.cut_random[1][50]).abs().item<double>() /
                          (result.coordinates_1d[51] - result.coordinates_1d[50]).item<double>()),
      1e-3);
}

TEST(Landscape, DirectionsAreOrthogonalOfEqualNormAndSeeded) {
  BuiltinClassifier model = small_cnn();
  const torch::Tensor x0 = mnist_like_input(2);
  for (const std::string adversarial : {"sign", "gradient", "pgd", "metric"}) {
    for (const std::string random : {"rademacher", "gaussian"}) {
      LandscapeConfig config = small_config();
      config.set("adversarial_direction", adversarial);
      config.set("random_direction", random);
      const Directions d = landscape_directions(model, x0, 1, 5, config);
      const double d1_norm = d.adversarial.norm().item<double>();
      EXPECT_NEAR((d.adversarial * d.random).sum().item<double>() / (d1_norm * d1_norm), 0.0, 1e-5)
          << adversarial << "/" << random;
      EXPECT_NEAR(d.random.norm().item<double>(), d1_norm, 1e-4 * d1_norm);
      if (adversarial == "sign" || adversarial == "pgd" || adversarial == "metric") {
        EXPECT_NEAR(d.adversarial.abs().max().item<double>(), 1.0, 1e-6);  // α is an L∞ distance
      }
    }
  }
  const LandscapeConfig config = small_config();
  const LandscapeResult first = compute_landscape(model, x0, 1, 5, config);
  const LandscapeResult again = compute_landscape(model, x0, 1, 5, config);
  EXPECT_TENSORS_EQUAL(first.grid, again.grid);
  LandscapeConfig other_seed = config;
  other_seed.seed = 1;
  EXPECT_FALSE(torch::equal(landscape_directions(model, x0, 1, 5, other_seed).random,
                            first.directions.random));
  EXPECT_FALSE(
      torch::equal(landscape_directions(model, x0, 1, 6, config).random, first.directions.random));
}

TEST(Landscape, ChunkSizeChangesMemoryNotResults) {
  BuiltinClassifier model = small_cnn();
  const torch::Tensor x0 = mnist_like_input(3);
  LandscapeConfig config = small_config();
  const LandscapeResult whole = compute_landscape(model, x0, 2, 0, config);
  config.chunk_size = 5;
  const LandscapeResult chunked = compute_landscape(model, x0, 2, 0, config);
  EXPECT_TENSORS_CLOSE(whole.grid, chunked.grid, 1e-6, 1e-5);
  EXPECT_TENSORS_CLOSE(whole.cut_random, chunked.cut_random, 1e-6, 1e-5);
}

TEST(Landscape, FirstZeroIsInterpolatedAndAGenuineZeroIsNotASentinel) {
  const torch::Tensor coordinates = torch::linspace(-2, 2, 5);  // -2 -1 0 1 2
  EXPECT_DOUBLE_EQ(first_zero_distance(coordinates, torch::tensor({-1.0, 1.0, 2.0, 1.0, -1.0}), +1),
                   1.5);
  EXPECT_DOUBLE_EQ(first_zero_distance(coordinates, torch::tensor({-1.0, 1.0, 2.0, 1.0, -1.0}), -1),
                   1.5);
  EXPECT_DOUBLE_EQ(first_zero_distance(coordinates, torch::tensor({3.0, 3.0, 2.0, 0.0, 5.0}), +1),
                   1.0);
  EXPECT_TRUE(
      std::isinf(first_zero_distance(coordinates, torch::tensor({3.0, 3.0, 2.0, 1.0, 5.0}), +1)));
  EXPECT_DOUBLE_EQ(first_zero_distance(coordinates, torch::tensor({3.0, 3.0, -2.0, 1.0, 5.0}), +1),
                   0.0);
}

TEST(Landscape, MarginDirectionExistsWhereTheSoftmaxSaturates) {
  // Logits scaled so the softmax is one-hot in float32: ∇CE is exactly zero, the margin's is not —
  // the situation of a distilled model deployed at T = 1.
  BuiltinClassifier model = testing::linear_model(4, 5, 3, 4);
  {
    torch::NoGradGuard no_grad;
    for (auto& parameter : model.parameters()) parameter.mul_(1e4);
  }
  const torch::Tensor x0 = torch::rand({1, 1, 4, 5});
  const int64_t label = predicted_class(model, x0);
  LandscapeConfig config;
  EXPECT_ERROR_CONTAINING(landscape_directions(model, x0, label, 0, config),
                          "the ce gradient is zero at sample 0");
  config.direction_loss = Loss::kMargin;
  const Directions directions = landscape_directions(model, x0, label, 0, config);
  // For a linear model the margin's ascent direction is sign(w_j − w_t), j the runner-up class.
  const auto [weight, bias] = testing::linear_weights(model);
  torch::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    logits = model.forward(x0)[0].clone();
  }
  logits[label] = -std::numeric_limits<float>::infinity();
  const int64_t runner_up = logits.argmax().item<int64_t>();
  EXPECT_TENSORS_EQUAL(directions.adversarial.flatten(),
                       (weight[runner_up] - weight[label]).sign());
}

// The four boundary distances of a landscape: +d1, −d1, +d2, −d2.
std::vector<double> boundaries(const LandscapeResult& result) {
  return {result.boundary_adversarial_positive, result.boundary_adversarial_negative,
          result.boundary_random_positive, result.boundary_random_negative};
}

TEST(Landscape, AdaptiveCutsFindTheFineUniformCutsBoundariesWithAQuarterOfTheirPasses) {
  // A uniform cut of the tolerance's precision has 2/tolerance + 1 points; the adaptive one starts
  // from 101 and bisects each sign change of S down to tolerance·range. A linear model on 28×28
  // inputs (S is piecewise linear along a cut, bent where clipping binds): its sign direction has
  // no zero entries, whose signs would be rounding noise (a small CNN's dead pixels gave 1.13 and
  // 2.6 different directions, and 2.6 no boundary within the range).
  BuiltinClassifier model = testing::linear_model(28, 28, 10, 7);
  for (const uint64_t input_seed : {1, 2, 3}) {
    const torch::Tensor x0 = mnist_like_input(input_seed);
    const int64_t label = predicted_class(model, x0);
    LandscapeConfig uniform;
    uniform.epsilon = 0.3;
    uniform.range = 1.0;
    uniform.resolution_2d = 3;  // the grid is not under test here
    uniform.resolution_1d = 2001;
    LandscapeConfig adaptive = uniform;
    adaptive.resolution_1d = 101;
    adaptive.sampling = LandscapeSampling::kAdaptive;
    const double tolerance = adaptive.boundary_tolerance * adaptive.range;
    const LandscapeResult fine = compute_landscape(model, x0, label, 0, uniform);
    const LandscapeResult refined = compute_landscape(model, x0, label, 0, adaptive);
    const std::vector<double> expected = boundaries(fine), found = boundaries(refined);
    int finite = 0;
    for (size_t k = 0; k < expected.size(); ++k) {
      if (std::isinf(expected[k])) {
        EXPECT_TRUE(std::isinf(found[k])) << "input " << input_seed << ", boundary " << k;
      } else {
        ++finite;
        EXPECT_NEAR(found[k], expected[k], tolerance)
            << "input " << input_seed << ", boundary " << k;
      }
    }
    EXPECT_GE(finite, 1) << "input " << input_seed << ": no boundary within the range to compare";
    for (const auto& [coordinates, cut] :
         {std::pair{refined.coordinates_adversarial, refined.cut_adversarial},
          std::pair{refined.coordinates_random, refined.cut_random}}) {
      EXPECT_LE(coordinates.size(0), 2001 / 4) << "input " << input_seed;
      EXPECT_TRUE(torch::equal(coordinates, std::get<0>(coordinates.sort())));
      ASSERT_EQ(cut.size(1), coordinates.size(0));
      // Every sign change of S between neighbouring points is bracketed within the tolerance.
      const torch::Tensor positive = cut[1] > 0;
      const torch::Tensor changes = positive.slice(0, 1) != positive.slice(0, 0, -1);
      const torch::Tensor gaps = coordinates.slice(0, 1) - coordinates.slice(0, 0, -1);
      if (changes.any().item<bool>()) {
        EXPECT_LE(gaps.masked_select(changes).max().item<double>(), tolerance * (1 + 1e-9))
            << "input " << input_seed;
      }
    }
    // Each added point of the adversarial cut is the surface there.
    const torch::Tensor d1 = refined.directions.adversarial.unsqueeze(0);
    const torch::Tensor points =
        (x0 + refined.coordinates_adversarial.to(torch::kFloat32).view({-1, 1, 1, 1}) * d1)
            .clamp(0, 1);
    EXPECT_TENSORS_CLOSE(refined.cut_adversarial,
                         landscape_quantities_at(model, x0, label, points, adaptive), 1e-5, 1e-4);
  }
}

TEST(Landscape, AdaptiveGridRefinesEveryFineCellTheBoundaryCrosses) {
  // A two-class linear model without clipping: S is linear on the plane, so a cell the boundary
  // crosses has corners of both signs at every level, and refinement must reach every crossed cell
  // of the uniform grid at the finest spacing.
  BuiltinClassifier model = testing::linear_model(4, 5, 2, 9);
  auto generator = at::detail::createCPUGenerator(3);
  const torch::Tensor x0 = 0.4 + 0.2 * torch::rand({1, 1, 4, 5}, generator);
  const int64_t label = predicted_class(model, x0);
  LandscapeConfig adaptive;
  adaptive.epsilon = 0.1;
  adaptive.range = 0.6;
  adaptive.clip = false;
  adaptive.resolution_1d = 11;
  adaptive.resolution_2d = 11;  // coarse spacing 0.12 = 0.2·range
  adaptive.sampling = LandscapeSampling::kAdaptive;
  adaptive.boundary_tolerance = 0.01;  // 5 levels: the finest spacing is 0.2·range/32
  const LandscapeResult refined = compute_landscape(model, x0, label, 0, adaptive);
  const int64_t fine_side = 10 * 32 + 1;
  LandscapeConfig uniform = adaptive;
  uniform.sampling = LandscapeSampling::kUniform;
  uniform.resolution_2d = fine_side;
  uniform.resolution_1d = 3;
  const LandscapeResult fine = compute_landscape(model, x0, label, 0, uniform);
  ASSERT_GT(refined.refined_points.size(0), 0) << "the boundary does not cross the plane";
  // Every point the refinement added equals the fine grid at that lattice point.
  const double spacing = 2 * 0.6 / (fine_side - 1);
  const torch::Tensor lattice = ((refined.refined_points + 0.6) / spacing).round().to(torch::kLong);
  EXPECT_TENSORS_CLOSE(refined.refined_points, lattice.to(torch::kFloat64) * spacing - 0.6, 1e-12,
                       0);
  const torch::Tensor at_lattice =
      fine.grid.index({torch::indexing::Slice(), lattice.select(1, 0), lattice.select(1, 1)});
  EXPECT_TENSORS_CLOSE(refined.refined_grid, at_lattice, 1e-4, 1e-4);
  // Every fine cell with corners of both signs has its four corners among the sampled points.
  const torch::Tensor positive = fine.grid[1] > 0;
  torch::Tensor sampled = torch::zeros({fine_side, fine_side}, torch::kBool);
  sampled.index_put_({torch::indexing::Slice(torch::indexing::None, torch::indexing::None, 32),
                      torch::indexing::Slice(torch::indexing::None, torch::indexing::None, 32)},
                     true);
  sampled.index_put_({lattice.select(1, 0), lattice.select(1, 1)}, true);
  const auto corner = [&](const torch::Tensor& grid, int64_t di, int64_t dj) {
    return grid.slice(0, di, fine_side - 1 + di).slice(1, dj, fine_side - 1 + dj);
  };
  const torch::Tensor crossed = (corner(positive, 0, 0) != corner(positive, 1, 0)) |
                                (corner(positive, 0, 0) != corner(positive, 0, 1)) |
                                (corner(positive, 0, 0) != corner(positive, 1, 1));
  const torch::Tensor covered =
      corner(sampled, 0, 0) & corner(sampled, 1, 0) & corner(sampled, 0, 1) & corner(sampled, 1, 1);
  ASSERT_GT(crossed.sum().item<int64_t>(), 0);
  EXPECT_EQ((crossed & covered.logical_not()).sum().item<int64_t>(), 0)
      << "of " << crossed.sum().item<int64_t>() << " crossed fine cells";
  // With at most a quarter of the fine grid's forward passes (here far fewer).
  EXPECT_LE(refined.forward_passes, fine_side * fine_side / 4);
  EXPECT_LE(refined.refined_points.size(0), 40 * crossed.sum().item<int64_t>());
}

TEST(Landscape, UniformSamplingAddsNothingAndRecordsNoAdaptiveSettings) {
  BuiltinClassifier model = small_cnn();
  const torch::Tensor x0 = mnist_like_input(1);
  LandscapeConfig config = small_config();
  const LandscapeResult result = compute_landscape(model, x0, 3, 0, config);
  EXPECT_FALSE(result.adaptive);
  EXPECT_EQ(result.refined_points.size(0), 0);
  EXPECT_TRUE(torch::equal(result.coordinates_adversarial, result.coordinates_1d));
  EXPECT_EQ(result.forward_passes, 1 + 2 * 11 + 7 * 7);
  EXPECT_EQ(config.entries().count("sampling"), 0u);
  config.set("sampling", "adaptive");
  EXPECT_EQ(config.entries().count("sampling"), 1u);
  EXPECT_EQ(config.entries().count("boundary_tolerance"), 1u);
}

TEST(Landscape, BadSettingsAreNamed) {
  LandscapeConfig config;
  config.resolution_2d = 50;
  EXPECT_ERROR_CONTAINING(config.validate(),
                          "resolution_2d: must be odd and in 3..100001 (the centre is x0), got 50");
  config = LandscapeConfig();
  EXPECT_ERROR_CONTAINING(config.set("adversarial_direction", "fgsm"),
                          "\"fgsm\" is unknown (known: sign, gradient, pgd, metric)");
  config = LandscapeConfig();
  EXPECT_ERROR_CONTAINING(config.set("pgd.stepz", "3"), "attack setting \"stepz\" is unknown");
  EXPECT_ERROR_CONTAINING(config.set("pgd.steps", "2.5"), "pgd.steps: \"2.5\" is not an integer");
  config.direction_loss = Loss::kDlr;
  EXPECT_ERROR_CONTAINING(config.validate(), "direction_loss: \"dlr\" cannot be used");
  EXPECT_ERROR_CONTAINING(config.set("clip", "maybe"), "\"maybe\" is not true or false");
  EXPECT_ERROR_CONTAINING(config.set("sampling", "dense"),
                          "\"dense\" is unknown (known: uniform, adaptive)");
  config = LandscapeConfig();
  config.boundary_tolerance = 0;
  EXPECT_ERROR_CONTAINING(config.validate(), "boundary_tolerance: must be in (0, 0.5]");
}

}  // namespace
}  // namespace robustscope
