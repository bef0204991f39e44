// The robustness metric: an upper bound on sampled divergences, invariances, options and summaries.
#include <gtest/gtest.h>
#include <torch/nn.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "core/attack/threat_model.hpp"
#include "core/metric/divergence.hpp"
#include "core/metric/robustness_metric.hpp"
#include "core/runtime/device.hpp"
#include "support/models.hpp"
#include "support/temp_dir.hpp"
#include "support/tensor_assertions.hpp"

namespace robustscope {
namespace {

BuiltinClassifier small_mlp(uint64_t seed) {
  seed_all(seed);
  BuiltinClassifier model(ArchitectureConfig::for_dataset("mlp", dataset_info("mnist"),
                                                          {{"hidden", 64}, {"layers", 2}}));
  model.set_training(false);
  return model;
}

torch::Tensor images(int64_t count, uint64_t seed) {
  auto generator = at::detail::createCPUGenerator(seed);
  return torch::rand({count, 1, 28, 28}, generator);
}

// Linear layers of an mlp in order.
std::vector<torch::nn::Linear> linears(BuiltinClassifier& model) {
  std::vector<torch::nn::Linear> layers;
  for (const auto& module : model.network()->modules(/*include_self=*/false)) {
    if (auto linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(module))
      layers.emplace_back(linear);
  }
  return layers;
}

TEST(Metric, IsAtLeastTheDivergenceAtAThousandRandomPointsOfTheBall) {
  BuiltinClassifier model = small_mlp(1);
  const torch::Tensor x = images(6, 2);
  for (const Norm norm : {Norm::kLinf, Norm::kL2}) {
    MetricConfig config;
    config.norm = norm;
    config.epsilon = norm == Norm::kLinf ? 0.1 : 2.0;
    const MetricResult result = compute_metric(model, x, torch::arange(6), config);
    const ThreatModel threat{norm, config.epsilon};
    for (int64_t i = 0; i < 6; ++i) {
      const torch::Tensor clean = x[i].unsqueeze(0).expand({1000, 1, 28, 28});
      const torch::Tensor points = random_start(threat, RandomStart::kUniform, 0, clean,
                                                torch::arange(1000) + 1000 * i, 99, 0);
      const double sampled =
          prediction_divergence(model, clean, points, config).max().item<double>();
      EXPECT_GE(result.value[i].item<double>(), sampled)
          << "sample " << i << ", " << norm_names().name(norm);
    }
    EXPECT_TRUE((threat.distance(result.maximiser, x) <= config.epsilon + 1e-5).all().item<bool>());
    // ψ is the divergence at the returned maximiser.
    EXPECT_TENSORS_CLOSE(prediction_divergence(model, x, result.maximiser, config), result.value,
                         1e-6, 1e-4);
  }
}

TEST(Metric, ScalingTheLastLayerChangesTheRawMetricButNotTheNormalisedOne) {
  const torch::Tensor x = images(8, 3);
  MetricConfig normalised, raw;
  normalised.epsilon = raw.epsilon = 0.1;
  raw.normalization = Normalization::kNone;
  std::map<double, MetricResult> by_scale_normalised, by_scale_raw;
  std::map<double, torch::Tensor> predictions;
  for (double scale : {0.1, 1.0, 10.0}) {
    BuiltinClassifier model = small_mlp(4);
    {
      torch::NoGradGuard no_grad;
      auto last = linears(model).back();
      last->weight.mul_(scale);
      last->bias.mul_(scale);
      predictions[scale] = model.forward(x).argmax(1);
    }
    by_scale_normalised[scale] = compute_metric(model, x, torch::arange(8), normalised);
    by_scale_raw[scale] = compute_metric(model, x, torch::arange(8), raw);
  }
  for (double scale : {0.1, 10.0}) {
    EXPECT_TENSORS_EQUAL(predictions[scale], predictions[1.0]);
    // Sign ascent is not smooth: float rounding may tip a path, hence 1% rather than bit equality.
    EXPECT_TENSORS_CLOSE(by_scale_normalised[scale].value, by_scale_normalised[1.0].value, 1e-6,
                         1e-2)
        << "scale " << scale;
    const double raw_ratio =
        (by_scale_raw[scale].value.mean() / by_scale_raw[1.0].value.mean()).item<double>();
    EXPECT_TRUE(raw_ratio < 0.5 || raw_ratio > 2.0)
        << "raw metric ratio " << raw_ratio << " at scale " << scale;
  }
}

TEST(Metric, RescalingTwoConsecutiveReluLayersLeavesLogitsAndMetricEqual) {
  const torch::Tensor x = images(8, 5);
  MetricConfig config;
  config.epsilon = 0.1;
  BuiltinClassifier reference = small_mlp(6);
  const MetricResult expected = compute_metric(reference, x, torch::arange(8), config);
  for (double a : {0.25, 4.0}) {
    BuiltinClassifier model = small_mlp(6);
    {
      torch::NoGradGuard no_grad;
      auto layers = linears(model);
      // ReLU(a·z) = a·ReLU(z) for a > 0: the next layer's 1/a undoes it.
      layers[0]->weight.mul_(a);
      layers[0]->bias.mul_(a);
      layers[1]->weight.div_(a);
      EXPECT_TENSORS_CLOSE(model.forward(x), reference.forward(x), 1e-5, 1e-4);
    }
    const MetricResult result = compute_metric(model, x, torch::arange(8), config);
    EXPECT_TENSORS_CLOSE(result.value, expected.value, 1e-6, 1e-2) << "a = " << a;
  }
}

TEST(Metric, RecordsClassesStepsTraceAndPasses) {
  BuiltinClassifier model = small_mlp(7);
  const torch::Tensor x = images(5, 6);
  MetricConfig config;
  config.epsilon = 0.2;
  config.steps = 7;
  config.restarts = 2;
  config.record_trace = true;
  const MetricResult result = compute_metric(model, x, torch::arange(5), config);
  EXPECT_EQ(result.trace.sizes(), torch::IntArrayRef({5, 2, 8}));
  // The value is the maximum of the trace, reached at the recorded step.
  const torch::Tensor trace_max = std::get<0>(result.trace.flatten(1).max(1));
  EXPECT_TENSORS_CLOSE(trace_max, result.value, 1e-7, 1e-5);
  EXPECT_EQ(result.forward_backward_passes, 5 * 2 * 7);
  EXPECT_TRUE((result.best_step >= 0).all().item<bool>() &&
              (result.best_step <= 7).all().item<bool>());
  torch::NoGradGuard no_grad;
  EXPECT_TENSORS_EQUAL(result.clean_class, model.forward(x).argmax(1));
}

TEST(Divergence, KnownValuesAndIdentities) {
  const torch::Tensor p = torch::log(torch::tensor({{0.5, 0.5}, {0.9, 0.1}}, torch::kFloat64));
  const torch::Tensor q = torch::log(torch::tensor({{0.5, 0.5}, {0.5, 0.5}}, torch::kFloat64));
  const torch::Tensor kl = divergence(p, q, Divergence::kKl);
  EXPECT_NEAR(kl[0].item<double>(), 0.0, 1e-12);
  EXPECT_NEAR(kl[1].item<double>(), 0.9 * std::log(1.8) + 0.1 * std::log(0.2), 1e-12);
  EXPECT_TENSORS_CLOSE(divergence(p, q, Divergence::kReverseKl), divergence(q, p, Divergence::kKl),
                       1e-8, 1e-5);
  EXPECT_TENSORS_CLOSE(divergence(p, q, Divergence::kSymmetricKl),
                       kl + divergence(q, p, Divergence::kKl), 1e-8, 1e-5);
  const torch::Tensor disjoint_p =
      torch::log(torch::tensor({{1.0 - 1e-15, 1e-15}}, torch::kFloat64));
  const torch::Tensor disjoint_q =
      torch::log(torch::tensor({{1e-15, 1.0 - 1e-15}}, torch::kFloat64));
  EXPECT_NEAR(divergence(disjoint_p, disjoint_q, Divergence::kJs).item<double>(), std::log(2.0),
              1e-9);
  EXPECT_ERROR_CONTAINING(divergence_names().parse("divergence", "hellinger"),
                          "divergence: \"hellinger\" is unknown (known: kl, reverse-kl, "
                          "symmetric-kl, js)");
}

TEST(Divergence, NormalisationsRemoveTheLogitScale) {
  auto generator = at::detail::createCPUGenerator(8);
  const torch::Tensor z = torch::randn({4, 10}, generator);
  EXPECT_TENSORS_CLOSE(normalize_logits(z, Normalization::kStandardize, 0),
                       normalize_logits(3 * z + 2, Normalization::kStandardize, 0), 1e-8, 1e-5);
  EXPECT_TENSORS_CLOSE(normalize_logits(z, Normalization::kL2, 0),
                       normalize_logits(7 * z, Normalization::kL2, 0), 1e-8, 1e-5);
  EXPECT_TENSORS_CLOSE(normalize_logits(z, Normalization::kL2, 0).norm(2, 1),
                       torch::full({4}, std::sqrt(10.0)), 1e-8, 1e-5);
  EXPECT_TENSORS_CLOSE(normalize_logits(z, Normalization::kL2, 2.0).norm(2, 1),
                       torch::full({4}, 2.0), 1e-8, 1e-5);
  EXPECT_TENSORS_EQUAL(normalize_logits(z, Normalization::kNone, 0), z);
}

TEST(MetricSummary, StatisticsAndBootstrapInterval) {
  const torch::Tensor values = torch::arange(1, 101, torch::kFloat64);  // 1..100
  const MetricSummary summary = summarize_metric(values, 2000, 0.95, 3);
  EXPECT_DOUBLE_EQ(summary.mean, 50.5);
  EXPECT_DOUBLE_EQ(summary.median, 50.5);
  EXPECT_NEAR(summary.quantiles.at(0.25), 25.75, 1e-9);
  EXPECT_LT(summary.ci_low, 50.5);
  EXPECT_GT(summary.ci_high, 50.5);
  // The percentile interval's half-width is near 1.96·σ/√n = 1.96·29.01/10 ≈ 5.7.
  EXPECT_NEAR((summary.ci_high - summary.ci_low) / 2, 5.7, 0.8);
  const MetricSummary again = summarize_metric(values, 2000, 0.95, 3);
  EXPECT_EQ(summary.ci_low, again.ci_low);
}

TEST(Metric, BadSettingsAreRefused) {
  MetricConfig config;
  config.random_start = RandomStart::kNone;
  EXPECT_ERROR_CONTAINING(config.validate(), "exactly zero at the clean input");
  config = MetricConfig();
  config.epsilon = -1;
  EXPECT_ERROR_CONTAINING(config.validate(), "epsilon: must be a finite number > 0, got -1");
  config = MetricConfig();
  EXPECT_ERROR_CONTAINING(config.set("normalization", "softmax"),
                          "normalization: \"softmax\" is unknown (known: none, standardize, l2)");
  EXPECT_ERROR_CONTAINING(config.set("divergnce", "kl"), "metric setting \"divergnce\" is unknown");
}

TEST(Metric, SettingsParseStrictly) {
  MetricConfig config;
  // Was truncated to 2 and read "yes" as false before; now both are read as written or refused.
  EXPECT_ERROR_CONTAINING(config.set("steps", "2.5"), "steps: \"2.5\" is not an integer");
  EXPECT_ERROR_CONTAINING(config.set("restarts", "3x"), "restarts: \"3x\" is not an integer");
  config.set("record_trace", "yes");
  EXPECT_TRUE(config.record_trace);
  EXPECT_ERROR_CONTAINING(config.set("record_trace", "maybe"), "is not true or false");
  EXPECT_ERROR_CONTAINING(config.set("seed", "1.5"), "seed: \"1.5\" is not a seed");
  EXPECT_ERROR_CONTAINING(config.set("seed", "18446744073709551616"), "out of range");
  EXPECT_ERROR_CONTAINING(config.set("seed", "-1"), "is not a seed");
  config.set("seed", "0");
  EXPECT_EQ(config.seed, 0u);
  EXPECT_ERROR_CONTAINING(config.set("epsilon", "1e400"), "is not a finite number");
  EXPECT_ERROR_CONTAINING(config.set("epsilon", "nan"), "is not a finite number");
}

// On a linear model without normalisation, KL(p ‖ q(x')) = logsumexp(z') − Σ p_i z'_i + const is
// convex in x' (z' linear in x'): its maximum over the box is at a vertex, found by enumerating
// the 2^6 vertices of a 6-pixel ball. With two classes KL depends on x' through the one logit
// difference, so its only local maxima are the vertices where that difference is largest and
// smallest, each reached from half the starts: an ascent with 20 uniform restarts (each side
// missed with probability 2^-20) must reach the true maximum.
TEST(Metric, TheApgdScheduleReachesTheTrueMaximumOfAConvexCase) {
  BuiltinClassifier model = testing::linear_model(2, 3, 2, 6);
  {
    torch::NoGradGuard no_grad;
    for (torch::Tensor& parameter : model.parameters()) parameter.mul_(2);
  }
  const torch::Tensor x = 0.2 + 0.6 * torch::rand({8, 1, 2, 3}, at::detail::createCPUGenerator(2));
  const double epsilon = 0.1;
  MetricConfig config;
  config.epsilon = epsilon;
  config.normalization = Normalization::kNone;
  config.schedule = AscentSchedule::kApgd;
  config.steps = 20;
  config.restarts = 20;
  config.random_start = RandomStart::kUniform;
  const torch::Tensor found = compute_metric(model, x, torch::arange(8), config).value;
  // Every vertex of [x − ε, x + ε] ∩ [0,1]^6, per sample.
  const torch::Tensor bits =
      torch::arange(64).unsqueeze(1).bitwise_right_shift(torch::arange(6)) % 2;
  for (int64_t s = 0; s < 8; ++s) {
    const torch::Tensor low = (x[s].flatten() - epsilon).clamp(0, 1),
                        high = (x[s].flatten() + epsilon).clamp(0, 1);
    const torch::Tensor vertices =
        torch::where(bits.to(torch::kBool), high, low).to(torch::kFloat32).view({64, 1, 2, 3});
    const double truth =
        prediction_divergence(model, x[s].unsqueeze(0).expand({64, 1, 2, 3}), vertices, config)
            .max()
            .item<double>();
    EXPECT_NEAR(found[s].item<double>(), truth, 1e-5 * truth + 1e-7) << "sample " << s;
  }
}

TEST(Metric, TheApgdScheduleIsASettingThatSetsItsOwnStep) {
  MetricConfig config;
  config.set("schedule", "apgd");
  EXPECT_EQ(config.schedule, AscentSchedule::kApgd);
  EXPECT_EQ(config.entries().count("step_size"), 0u);  // not a setting of the schedule
  EXPECT_EQ(config.entries().count("schedule"), 1u);
  config.set("step_size", "0.01");
  EXPECT_ERROR_CONTAINING(config.validate(), "step_size: the apgd schedule sets its own step");
  EXPECT_ERROR_CONTAINING(config.set("schedule", "adam"),
                          "\"adam\" is unknown (known: fixed, apgd)");
}

}  // namespace
}  // namespace robustscope
