// The ascent loop against closed forms on a linear softmax model, and the threat model's
// constraints.
#include <gtest/gtest.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "core/attack/ascent.hpp"
#include "core/attack/attacks.hpp"
#include "core/runtime/host_sync.hpp"

#include <map>
#include <set>
#include "support/models.hpp"
#include "support/printers.hpp"
#include "support/temp_dir.hpp"
#include "support/tensor_assertions.hpp"

namespace robustscope {
namespace {

constexpr int64_t kHeight = 4, kWidth = 5, kClasses = 10;

torch::Tensor inputs_away_from_the_box(int64_t count, uint64_t seed) {
  auto generator = at::detail::createCPUGenerator(seed);
  return 0.35 + 0.3 * torch::rand({count, 1, kHeight, kWidth}, generator);
}

// z_j − z_t for a fixed pair, as an objective: linear in x, so its maximum over the ball is exact.
Objective pair_objective(int64_t j) {
  return [j](const torch::Tensor& logits, const Targets& targets) {
    return logits.select(1, j) - logits.gather(1, targets.labels.unsqueeze(1)).squeeze(1);
  };
}

// max over the ball of (w_j − w_t)·x + b_j − b_t: ε‖w_j − w_t‖₁ (L∞) or ε‖w_j − w_t‖₂ (L2) above
// x0.
torch::Tensor closed_form(const torch::Tensor& weight, const torch::Tensor& bias,
                          const torch::Tensor& x0, const torch::Tensor& labels, int64_t j,
                          Norm norm, double epsilon) {
  const torch::Tensor flat = x0.flatten(1);
  const torch::Tensor difference = weight[j].unsqueeze(0) - weight.index_select(0, labels);
  const torch::Tensor at_x0 = (difference * flat).sum(1) + bias[j] - bias.index_select(0, labels);
  const torch::Tensor dual_norm =
      norm == Norm::kLinf ? difference.abs().sum(1) : difference.norm(2, 1);
  return at_x0 + epsilon * dual_norm;
}

class LinearClosedForm : public ::testing::TestWithParam<std::tuple<std::string, Norm>> {};

TEST_P(LinearClosedForm, AscentReachesTheWorstCaseMarginOfEveryPair) {
  const auto& [rule_name, norm] = GetParam();
  BuiltinClassifier model = testing::linear_model(kHeight, kWidth, kClasses, 11);
  const auto [weight, bias] = testing::linear_weights(model);
  const torch::Tensor x0 = inputs_away_from_the_box(6, 1);
  const torch::Tensor labels = torch::tensor({0, 1, 2, 3, 4, 5});
  const double epsilon = norm == Norm::kLinf ? 0.05 : 0.15;  // clipping to [0,1] never binds
  const ThreatModel threat{norm, epsilon};
  AscentSettings settings;
  settings.steps = 100;
  settings.start = RandomStart::kUniform;
  for (int64_t j = 6; j < kClasses; ++j) {
    // L2 steps must be long enough for the radial projection to shed the random start's
    // orthogonal part: ε/4 does within 100 steps; L∞ reaches the vertex with Madry's 2.5ε/steps.
    FixedStep fixed(norm == Norm::kLinf ? 2.5 * epsilon / settings.steps : 0.25 * epsilon);
    ApgdStep apgd;
    StepRule& rule = rule_name == "pgd" ? static_cast<StepRule&>(fixed) : apgd;
    const AscentResult result = run_ascent(model, x0, Targets{labels, {}, {}}, torch::arange(6),
                                           pair_objective(j), threat, rule, settings);
    const torch::Tensor expected = closed_form(weight, bias, x0, labels, j, norm, epsilon);
    EXPECT_TENSORS_CLOSE(result.best_value, expected, 1e-3, 1e-3)
        << "pair j=" << j << "\nreached " << result.best_value << "\nclosed form " << expected;
    EXPECT_TRUE((result.best_value <= expected + 1e-4).all().item<bool>())
        << "above the true maximum";
  }
}

INSTANTIATE_TEST_SUITE_P(PgdAndApgd, LinearClosedForm,
                         ::testing::Combine(::testing::Values("pgd", "apgd"),
                                            ::testing::Values(Norm::kLinf, Norm::kL2)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" +
                                  norm_names().name(std::get<1>(info.param));
                         });

TEST(LinearClosedForm, UntargetedMarginAttackReachesTheWorstPair) {
  // Worst-case decision surface S over the ball = min_j [S_tj(x0) − ε‖w_t − w_j‖₁].
  constexpr int64_t kFew = 3;
  BuiltinClassifier model = testing::linear_model(kHeight, kWidth, kFew, 5);
  const auto [weight, bias] = testing::linear_weights(model);
  const torch::Tensor x0 = inputs_away_from_the_box(8, 2);
  const torch::Tensor labels = torch::tensor({0, 1, 2, 0, 1, 2, 0, 1});
  const double epsilon = 0.05;
  torch::Tensor expected = torch::full({8}, -1e9);
  for (int64_t j = 0; j < kFew; ++j) {
    const torch::Tensor pair = closed_form(weight, bias, x0, labels, j, Norm::kLinf, epsilon);
    expected = torch::where(labels.eq(j), expected, torch::maximum(expected, pair));
  }
  AscentSettings settings;
  settings.steps = 100;
  settings.restarts = 3;
  for (const bool apgd_rule : {false, true}) {
    FixedStep fixed(2.5 * epsilon / settings.steps);
    ApgdStep apgd;
    StepRule& rule = apgd_rule ? static_cast<StepRule&>(apgd) : fixed;
    const AscentResult result = run_ascent(model, x0, Targets{labels, {}, {}}, torch::arange(8),
                                           make_attack_objective(Loss::kMargin),
                                           ThreatModel{Norm::kLinf, epsilon}, rule, settings);
    EXPECT_TENSORS_CLOSE(result.best_value, expected, 1e-3, 1e-3)
        << (apgd_rule ? "apgd" : "pgd") << "\nreached " << result.best_value << "\nexpected "
        << expected;
  }
}

TEST(LinearClosedForm, DecisionSurfaceIsLinearAlongTheSignDirection) {
  BuiltinClassifier model = testing::linear_model(kHeight, kWidth, 2, 9);
  const auto [weight, bias] = testing::linear_weights(model);
  const torch::Tensor x0 = inputs_away_from_the_box(1, 3);
  const torch::Tensor label = torch::tensor({0});
  const torch::Tensor direction = (weight[1] - weight[0]).sign().view({1, 1, kHeight, kWidth});
  torch::NoGradGuard no_grad;
  const double slope = -(weight[1] - weight[0]).abs().sum().item<double>();
  const double s0 = logit_margin(model.forward(x0), label).item<double>();
  for (double alpha : {0.01, 0.02, 0.05}) {
    const double s = logit_margin(model.forward(x0 + alpha * direction), label).item<double>();
    EXPECT_NEAR(s, s0 + alpha * slope, 1e-4);
  }
}

TEST(ThreatModel, ProjectionLandsInBallAndBoxForBothNorms) {
  auto generator = at::detail::createCPUGenerator(4);
  const torch::Tensor clean = torch::rand({16, 3, 8, 8}, generator);
  const torch::Tensor wild = clean + 3 * torch::randn({16, 3, 8, 8}, generator);
  for (const Norm norm : {Norm::kLinf, Norm::kL2}) {
    const ThreatModel threat{norm, 0.5};
    const torch::Tensor projected = threat.project(wild, clean);
    EXPECT_TRUE((threat.distance(projected, clean) <= 0.5 + 1e-6).all().item<bool>());
    EXPECT_GE(projected.min().item<float>(), 0.0f);
    EXPECT_LE(projected.max().item<float>(), 1.0f);
    // A point already inside stays where it is.
    const torch::Tensor inside = threat.project(clean + 0.001 * (wild - clean).sign(), clean);
    EXPECT_TENSORS_CLOSE(threat.project(inside, clean), inside, 1e-8, 1e-5);
  }
}

TEST(ThreatModel, RandomStartsArePerSampleAndSeeded) {
  const torch::Tensor clean = torch::full({4, 1, 5, 5}, 0.5);
  const ThreatModel threat{Norm::kLinf, 0.1};
  const torch::Tensor ids = torch::tensor({10, 11, 12, 13});
  const torch::Tensor a = random_start(threat, RandomStart::kUniform, 0, clean, ids, 7, 0);
  const torch::Tensor again = random_start(threat, RandomStart::kUniform, 0, clean, ids, 7, 0);
  const torch::Tensor other_restart =
      random_start(threat, RandomStart::kUniform, 0, clean, ids, 7, 1);
  EXPECT_TENSORS_EQUAL(a, again);
  EXPECT_FALSE(torch::equal(a, other_restart));
  // Sample 12's start is the same alone as in the batch.
  const torch::Tensor alone = random_start(threat, RandomStart::kUniform, 0, clean.slice(0, 2, 3),
                                           torch::tensor({12}), 7, 0);
  EXPECT_TENSORS_EQUAL(alone[0], a[2]);
  const torch::Tensor boundary = random_start(threat, RandomStart::kBoundary, 0, clean, ids, 7, 0);
  EXPECT_TENSORS_CLOSE(threat.distance(boundary, clean), torch::full({4}, 0.1), 1e-8, 1e-5);
}

TEST(Ascent, TheHostWaitsForTheDeviceOncePerRestartNeverPerStep) {
  // Counted on the CPU through LibTorch's operator observers: item, nonzero, masked_select, …
  BuiltinClassifier model = testing::linear_model(kHeight, kWidth, kClasses, 2);
  const torch::Tensor x0 = inputs_away_from_the_box(6, 3);
  const torch::Tensor labels = torch::tensor({0, 1, 2, 3, 4, 5});
  std::map<int64_t, int64_t> syncs;
  for (const bool apgd : {false, true}) {
    for (const int64_t steps : {5, 50}) {
      AscentSettings settings;
      settings.steps = steps;
      settings.restarts = 3;
      settings.restart_only_unfooled = true;
      settings.record_trace = true;
      FixedStep fixed(0.01);
      ApgdStep apgd_rule;
      StepRule& rule = apgd ? static_cast<StepRule&>(apgd_rule) : fixed;
      const HostSyncCounter counter;
      run_ascent(model, x0, Targets{labels, {}, {}}, torch::arange(6),
                 make_attack_objective(Loss::kCrossEntropy), ThreatModel{Norm::kLinf, 0.05}, rule,
                 settings);
      syncs[steps] = counter.total();
      EXPECT_LE(counter.total(), 3 * 4) << (apgd ? "apgd " : "pgd ") << steps << " steps";
    }
    EXPECT_EQ(syncs[5], syncs[50]) << (apgd ? "apgd" : "pgd") << ": the count grows with steps";
  }
}

TEST(Ascent, TheSyncCounterSeesTheOperationsThatWait) {
  const torch::Tensor values = torch::tensor({1.0, -2.0, 3.0});
  const HostSyncCounter counter;
  EXPECT_EQ(values.sum().item<double>(), 2.0);
  EXPECT_EQ(values.nonzero().size(0), 3);
  EXPECT_EQ(values.masked_select(values > 0).numel(), 2);
  EXPECT_GE(counter.total(), 3);
  EXPECT_EQ(counter.by_operation().count("aten::nonzero"), 1u);
}

TEST(RandomStarts, SeedsOfSamplesAndStreamsNeverCollide) {
  // The old mix, seed + φ·(id·131 + stream + 1), gave (id, 131) the seed of (id + 1, 0).
  EXPECT_NE(sample_seed(7, 5, 131), sample_seed(7, 6, 0));
  EXPECT_NE(sample_seed(7, 5, 1000), sample_seed(7, 12, 83));
  std::set<uint64_t> seen;
  for (int64_t id = 0; id < 1000; ++id)
    for (int64_t stream = 0; stream < 200; ++stream) seen.insert(sample_seed(3, id, stream));
  EXPECT_EQ(seen.size(), 1000u * 200u);
  EXPECT_NE(sample_seed(3, 0, 0), sample_seed(4, 0, 0));
}

}  // namespace
}  // namespace robustscope
