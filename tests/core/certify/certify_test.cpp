// Certified bounds: exact where they must be (a linear model's margins), sound everywhere (above
// the ascent's ψ and the divergence at thousands of points of the ball, for every built-in
// architecture, residual ones included, random and trained), IBP never tighter than CROWN, and a
// 2-D network whose true maximum, found by dense grid search, lies inside the bracket.
#include <gtest/gtest.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "core/attack/attacks.hpp"
#include "core/certify/certify.hpp"
#include "core/metric/robustness_metric.hpp"
#include "core/runtime/device.hpp"
#include "core/train/trainer.hpp"
#include "support/models.hpp"
#include "support/temp_dir.hpp"
#include "support/tensor_assertions.hpp"

namespace robustscope {
namespace {

BuiltinClassifier random_model(const std::string& arch, const DatasetInfo& info,
                               std::map<std::string, int64_t> arguments, uint64_t seed) {
  seed_all(seed);
  BuiltinClassifier model(ArchitectureConfig::for_dataset(arch, info, std::move(arguments)));
  model.set_training(false);
  // BatchNorm statistics that are not the identity.
  torch::NoGradGuard no_grad;
  for (const auto& buffer : model.network()->named_buffers()) {
    if (buffer.key().find("running_mean") != std::string::npos) buffer.value().uniform_(-0.2, 0.2);
    if (buffer.key().find("running_var") != std::string::npos) buffer.value().uniform_(0.5, 2.0);
  }
  return model;
}

torch::Tensor images_like(const DatasetInfo& info, int64_t count, uint64_t seed) {
  auto generator = at::detail::createCPUGenerator(seed);
  return torch::rand(info.shape.batch_sizes(count), generator);
}

TEST(Certify, CrownIsExactOnTheMarginsOfALinearModel) {
  BuiltinClassifier model = testing::linear_model(4, 5, 10, 3);
  const auto [weight, bias] = testing::linear_weights(model);
  const torch::Tensor x = 0.2 + 0.6 * torch::rand({6, 1, 4, 5});
  const double epsilon = 0.05;
  torch::Tensor c;
  {
    torch::NoGradGuard no_grad;
    c = model.forward(x).argmax(1);
  }
  const torch::Tensor eye = torch::eye(10);
  const torch::Tensor spec = eye.unsqueeze(0).expand({6, 10, 10}) -
                             eye.index_select(0, c).unsqueeze(1).expand({6, 10, 10});
  const SpecificationBounds crown =
      bound_specification(model, x, spec, ThreatModel{Norm::kLinf, epsilon}, BoundMethod::kCrown);
  const SpecificationBounds ibp =
      bound_specification(model, x, spec, ThreatModel{Norm::kLinf, epsilon}, BoundMethod::kIbp);
  // The closed form over the box [x − ε, x + ε] ∩ [0,1]: (w_j − w_c)·x at the box's best corner.
  const torch::Tensor low = (x - epsilon).clamp(0, 1).flatten(1),
                      high = (x + epsilon).clamp(0, 1).flatten(1);
  for (int64_t s = 0; s < 6; ++s) {
    const torch::Tensor w = weight - weight[c[s]];
    const torch::Tensor b = bias - bias[c[s]];
    const torch::Tensor upper = (w.clamp_min(0) * high[s] + w.clamp_max(0) * low[s]).sum(1) + b;
    const torch::Tensor lower = (w.clamp_min(0) * low[s] + w.clamp_max(0) * high[s]).sum(1) + b;
    EXPECT_TENSORS_CLOSE(crown.upper[s], upper, 1e-4, 1e-5) << "sample " << s;
    EXPECT_TENSORS_CLOSE(crown.lower[s], lower, 1e-4, 1e-5) << "sample " << s;
    // IBP bounds each logit apart: never tighter, and looser for the differences.
    EXPECT_TRUE((ibp.upper[s] >= upper - 1e-4).all().item<bool>());
  }
  EXPECT_GT((ibp.upper - crown.upper).sum().item<double>(), 0.1);
}

struct Architecture {
  std::string name;
  std::string dataset;
  std::map<std::string, int64_t> arguments;
};

void PrintTo(const Architecture& a, std::ostream* out) { *out << a.name; }

class CertifySoundness : public ::testing::TestWithParam<Architecture> {};

TEST_P(CertifySoundness, TheBoundLiesAboveTheAscentAndEveryPointOfTheBall) {
  const Architecture& a = GetParam();
  const DatasetInfo info = dataset_info(a.dataset);
  configure_threads(1);
  for (const bool trained : {false, true}) {
    SCOPED_TRACE(trained ? "trained" : "random");
    BuiltinClassifier model = random_model(a.name, info, a.arguments, 7);
    const torch::Tensor x = images_like(info, 4, 11);
    if (trained) {
      // A few steps of training to labels of a fixed random linear map: weights that are not
      // their initialisation, and a model that is confident on some samples.
      Dataset data = make_dataset(info, "train", "generated",
                                  (images_like(info, 64, 5) * 255).to(torch::kUInt8),
                                  torch::randint(0, 10, {64}, torch::kInt64));
      TrainConfig config;
      config.epochs = 3;
      config.batch_size = 16;
      config.optimizer = Optimizer::kAdam;
      config.learning_rate = 1e-3;
      train_classifier(model, data, config, natural_objective(), torch::kCPU,
                       [](const EpochReport&) {});
    }
    for (const Normalization normalization : {Normalization::kNone, Normalization::kStandardize}) {
      const double epsilon = a.dataset == "mnist" ? 0.02 : 0.004;
      CertifyConfig config;
      config.epsilon = epsilon;
      config.normalization = normalization;
      const CertifyResult crown = certify(model, x, torch::zeros({4}, torch::kInt64), config);
      config.method = BoundMethod::kIbp;
      const CertifyResult ibp = certify(model, x, torch::zeros({4}, torch::kInt64), config);
      EXPECT_TRUE((ibp.psi_upper >= crown.psi_upper).all().item<bool>())
          << ibp.psi_upper << crown.psi_upper;
      // The ascent's ψ (a lower bound on the true maximum) and the divergence at 2,000 uniform
      // points of the ball per sample stay below the certified bound.
      MetricConfig metric;
      metric.epsilon = epsilon;
      metric.normalization = normalization;
      metric.steps = 20;
      metric.restarts = 2;
      const MetricResult ascent = compute_metric(model, x, torch::arange(4), metric);
      EXPECT_TRUE((ascent.value <= crown.psi_upper * (1 + 1e-5) + 1e-6).all().item<bool>())
          << "ascent " << ascent.value << " bound " << crown.psi_upper;
      for (int64_t s = 0; s < 4; ++s) {
        const torch::Tensor clean = x[s].unsqueeze(0).expand(info.shape.batch_sizes(2000));
        const torch::Tensor points =
            random_start(ThreatModel{Norm::kLinf, epsilon}, RandomStart::kUniform, 0, clean,
                         torch::arange(2000) + 2000 * s, 5, 0);
        const double sampled =
            prediction_divergence(model, clean, points, metric).max().item<double>();
        EXPECT_LE(sampled, crown.psi_upper[s].item<double>() * (1 + 1e-5) + 1e-6) << "sample " << s;
        // The certified margin holds at every point too.
        torch::NoGradGuard no_grad;
        const torch::Tensor logits = model.forward(points);
        const torch::Tensor c = crown.clean_class[s].expand({2000});
        EXPECT_GE(logit_margin(logits, c).min().item<double>(),
                  crown.margin_lower[s].item<double>() - 1e-4);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Zoo, CertifySoundness,
    ::testing::Values(Architecture{"mlp", "mnist", {{"hidden", 32}}},
                      Architecture{"small-cnn", "mnist", {{"channels", 4}, {"hidden", 32}}},
                      Architecture{"vgg", "cifar10", {{"depth", 11}, {"width", 4}}},
                      // Residual blocks: a branch and a shortcut summed, identity and projection
                      // (wide-resnet's blocks are the same).
                      Architecture{"preact-resnet18", "cifar10", {{"width", 2}}}),
    [](const auto& info) {
      std::string name = info.param.name;
      for (char& c : name)
        if (c == '-') c = '_';
      return name;
    });

TEST(Certify, TheTrueMaximumOfATwoDimensionalNetworkLiesInsideTheBracket) {
  // Inputs of two pixels: the ball is a square, searched densely for the true maximum of ψ.
  ArchitectureConfig architecture;
  architecture.name = "mlp";
  architecture.input = {1, 1, 2};
  architecture.num_classes = 3;
  architecture.arguments = {{"hidden", 16}, {"layers", 2}};
  seed_all(4);
  BuiltinClassifier model(architecture);
  model.set_training(false);
  {
    // Three layers ×3: logits ×27, a confident network whose prediction moves within the ball.
    torch::NoGradGuard no_grad;
    for (torch::Tensor& parameter : model.parameters()) parameter.mul_(3);
  }
  const double epsilon = 0.15;
  const torch::Tensor x = torch::tensor({0.45, 0.55}).view({1, 1, 1, 2});
  for (const Normalization normalization : {Normalization::kNone, Normalization::kStandardize}) {
    MetricConfig metric;
    metric.epsilon = epsilon;
    metric.normalization = normalization;
    metric.restarts = 5;
    const double ascent = compute_metric(model, x, torch::arange(1), metric).value.item<double>();
    const int64_t n = 401;
    const torch::Tensor axis = torch::linspace(-epsilon, epsilon, n);
    const torch::Tensor grid = torch::stack({axis.repeat_interleave(n), axis.repeat({n})}, 1);
    const torch::Tensor points = (x.view({1, 2}) + grid).clamp(0, 1).view({-1, 1, 1, 2});
    const double truth = prediction_divergence(model, x.expand({n * n, 1, 1, 2}), points, metric)
                             .max()
                             .item<double>();
    CertifyConfig config;
    config.epsilon = epsilon;
    config.normalization = normalization;
    const double bound =
        certify(model, x, torch::zeros({1}, torch::kInt64), config).psi_upper.item<double>();
    std::printf("%s: ascent %.6f <= grid maximum %.6f <= certified %.6f\n",
                normalization_names().name(normalization).c_str(), ascent, truth, bound);
    EXPECT_LE(ascent, truth + 1e-6);
    EXPECT_LE(truth, bound * (1 + 1e-6));
    EXPECT_TRUE(std::isfinite(bound));
  }
}

TEST(Certify, TheKlBoundIsZeroForAPointBallAndVacuousWhereEveryLogitMayTie) {
  const torch::Tensor logits = torch::tensor({{2.0, -1.0, 0.5}, {0.1, 0.3, -0.2}});
  const torch::Tensor c = logits.argmax(1);
  const torch::Tensor differences = logits - logits.gather(1, c.unsqueeze(1));
  // A ball of radius 0: the bounds are the clean differences and the divergence is 0.
  for (const Normalization normalization : {Normalization::kNone, Normalization::kStandardize})
    EXPECT_TENSORS_CLOSE(kl_upper_bound(logits, differences, differences, normalization),
                         torch::zeros({2}, torch::kFloat64), 1e-9, 1e-12);
  // A wider ball: the bound grows with it, and stays finite without normalisation.
  const torch::Tensor narrow =
      kl_upper_bound(logits, differences - 0.1, differences + 0.1, Normalization::kNone);
  const torch::Tensor wide =
      kl_upper_bound(logits, differences - 1, differences + 1, Normalization::kNone);
  EXPECT_TRUE((narrow > 0).all().item<bool>());
  EXPECT_TRUE((wide > narrow).all().item<bool>());
  EXPECT_TRUE(wide.isfinite().all().item<bool>());
  // Standardised logits when every difference may be 0: the spread may vanish, no finite bound.
  const torch::Tensor tie = kl_upper_bound(logits, torch::full({2, 3}, -3.0),
                                           torch::full({2, 3}, 3.0), Normalization::kStandardize);
  // ... except the one every standardised vector obeys: ñ_j − ñ_i ≤ √(2K) (Σ ñ² ≤ K), which bounds
  // ψ by Σ p log p + Σ_i p_i log(1 + (K − 1)·e^√(2K)).
  const torch::Tensor p = torch::softmax(
      normalized_log_probs(logits.to(torch::kFloat64), Normalization::kStandardize, 0), 1);
  const double cross = std::log(1 + 2 * std::exp(std::sqrt(6.0)));
  EXPECT_TENSORS_CLOSE(tie, (p * p.log()).sum(1) + cross, 1e-9, 1e-12);
}

// (Models without a bound are refused by name in torchscript_bounds_test.cpp: every built-in
// architecture has one now.)
TEST(Certify, SettingsWithoutABoundAreRefusedWithTheReason) {
  CertifyConfig config;
  config.epsilon = 0.01;
  config.normalization = Normalization::kL2;
  EXPECT_ERROR_CONTAINING(config.validate(), "no certified bound is implemented for the l2");
  config = CertifyConfig();
  config.divergence = Divergence::kJs;
  EXPECT_ERROR_CONTAINING(config.validate(), "no certified bound is implemented for js (only kl)");
}

}  // namespace
}  // namespace robustscope
