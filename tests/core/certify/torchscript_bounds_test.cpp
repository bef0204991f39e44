// Bound propagation through TorchScript graphs exported by PyTorch (Debian's python3-torch): a
// traced linear model is certified exactly as its closed form says; a traced and a scripted ReLU
// network get the bounds of the built-in architecture with the same weights; a residual network
// traced from PyTorch certifies soundly; an operation bound propagation does not know is named with
// its place in the graph. A VGG-style network traced from PyTorch certifies too.
#include <gtest/gtest.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <fstream>

#include "core/attack/attacks.hpp"
#include "core/certify/certify.hpp"
#include "core/metric/robustness_metric.hpp"
#include "core/models/model_source.hpp"
#include "core/runtime/device.hpp"
#include "support/models.hpp"
#include "support/temp_dir.hpp"
#include "support/tensor_assertions.hpp"

namespace robustscope {
namespace {

using testing::TempDir;

BuiltinClassifier builtin(const std::string& arch, std::map<std::string, int64_t> arguments,
                          uint64_t seed) {
  BuiltinClassifier model(
      ArchitectureConfig::for_dataset(arch, dataset_info("mnist"), std::move(arguments)));
  testing::redraw_parameters(model, seed);
  model.set_training(false);
  return model;
}

// [N, K, K] rows e_j − e_c: every logit difference against the clean class.
torch::Tensor margins_against(const torch::Tensor& classes, int64_t k) {
  const torch::Tensor eye = torch::eye(k);
  const int64_t n = classes.size(0);
  return eye.unsqueeze(0).expand({n, k, k}) -
         eye.index_select(0, classes).unsqueeze(1).expand({n, k, k});
}

torch::Tensor images(int64_t count, uint64_t seed) {
  return torch::rand({count, 1, 28, 28}, at::detail::createCPUGenerator(seed));
}

class TorchScriptBounds : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::python().empty())
      GTEST_SKIP() << "no Python with torch was found at configure time";
    configure_threads(1);
    const DatasetInfo mnist = dataset_info("mnist");
    std::vector<torch::Tensor> weights = {torch::tensor(mnist.mean).to(torch::kFloat32),
                                          torch::tensor(mnist.stddev).to(torch::kFloat32)};
    for (BuiltinClassifier* model : {&linear, &mlp, &cnn})
      for (const torch::Tensor& parameter : model->parameters())
        weights.push_back(parameter.detach().clone());
    // Raw float32 values and one line of sizes per tensor: nothing for Python to unpickle.
    {
      std::ofstream values(dir.file("weights.f32"), std::ios::binary);
      std::ofstream sizes(dir.file("weights.txt"));
      for (const torch::Tensor& tensor : weights) {
        const torch::Tensor flat = tensor.to(torch::kFloat32).contiguous();
        values.write(static_cast<const char*>(flat.data_ptr()),
                     static_cast<std::streamsize>(flat.numel() * sizeof(float)));
        for (int64_t size : tensor.sizes()) sizes << size << ' ';
        sizes << '\n';
      }
    }
    const auto exported = testing::run_command(testing::python() +
                                               " " ROBUSTSCOPE_SOURCE_DIR
                                               "/tests/core/certify/export_bounded_models.py " +
                                               dir.path().string() + " " + dir.file("weights"));
    ASSERT_EQ(exported.exit_code, 0) << exported.output;
  }
  std::unique_ptr<Classifier> traced(const std::string& name) {
    return load_classifier({"torchscript", dir.file(name + ".pt")}, dataset_info("mnist"),
                           torch::kCPU);
  }

  TempDir dir;
  BuiltinClassifier linear = testing::linear_model(28, 28, 10, 3);
  BuiltinClassifier mlp = builtin("mlp", {{"hidden", 32}, {"layers", 1}}, 4);
  BuiltinClassifier cnn = builtin("small-cnn", {{"channels", 4}, {"hidden", 32}}, 5);
};

TEST_F(TorchScriptBounds, ATracedLinearModelIsCertifiedExactlyAsItsClosedFormSays) {
  const std::unique_ptr<Classifier> model = traced("linear");
  const auto [weight, bias] = testing::linear_weights(linear);
  const torch::Tensor x = images(64, 9);
  torch::Tensor labels;
  {
    torch::NoGradGuard no_grad;
    labels = model->forward(x).argmax(1);
  }
  labels.slice(0, 0, 8).add_(1).remainder_(10);  // eight misclassified samples
  const double epsilon = 0.01;
  CertifyConfig config;
  config.epsilon = epsilon;
  config.normalization = Normalization::kNone;
  const CertifyResult result = certify(*model, x, labels, config);
  // Robust iff correct and (w_j − w_c)·x' + b_j − b_c < 0 at the box's worst corner for every j.
  const torch::Tensor low = (x - epsilon).clamp(0, 1).flatten(1),
                      high = (x + epsilon).clamp(0, 1).flatten(1);
  int64_t robust_count = 0;
  for (int64_t s = 0; s < 64; ++s) {
    const int64_t c = labels[s].item<int64_t>();
    const torch::Tensor w = weight - weight[c], b = bias - bias[c];
    torch::Tensor worst = (w.clamp_min(0) * high[s] + w.clamp_max(0) * low[s]).sum(1) + b;
    worst[c] = -1;  // the class itself
    const bool correct = result.clean_class[s].item<int64_t>() == c;
    const bool robust = correct && (worst < 0).all().item<bool>();
    robust_count += robust;
    EXPECT_EQ(result.certified[s].item<bool>(), robust) << "sample " << s;
  }
  // Neither all nor none: the comparison means something.
  EXPECT_GT(robust_count, 0);
  EXPECT_LT(robust_count, 56);
}

TEST_F(TorchScriptBounds, TracedAndScriptedReluNetworksGetTheBuiltinArchitecturesBounds) {
  const torch::Tensor x = images(3, 11);
  struct Pair {
    std::string name;
    BuiltinClassifier* builtin;
  };
  for (const Pair& pair :
       {Pair{"mlp", &mlp}, Pair{"cnn_traced", &cnn}, Pair{"cnn_scripted", &cnn}}) {
    SCOPED_TRACE(pair.name);
    const std::unique_ptr<Classifier> model = traced(pair.name);
    torch::Tensor classes;
    {
      torch::NoGradGuard no_grad;
      classes = pair.builtin->forward(x).argmax(1);
      EXPECT_TENSORS_CLOSE(model->forward(x), pair.builtin->forward(x), 1e-5, 1e-5);
    }
    const torch::Tensor spec = margins_against(classes, 10);
    for (const BoundMethod method : {BoundMethod::kIbp, BoundMethod::kCrown}) {
      const ThreatModel ball{Norm::kLinf, 0.02};
      const SpecificationBounds mine = bound_specification(*model, x, spec, ball, method);
      const SpecificationBounds theirs = bound_specification(*pair.builtin, x, spec, ball, method);
      EXPECT_TENSORS_CLOSE(mine.lower, theirs.lower, 1e-4, 1e-4);
      EXPECT_TENSORS_CLOSE(mine.upper, theirs.upper, 1e-4, 1e-4);
    }
    // Above the ascent's ψ and the divergence at 1,000 points of the ball per sample.
    CertifyConfig config;
    config.epsilon = 0.02;
    const CertifyResult certified = certify(*model, x, classes, config);
    MetricConfig metric;
    metric.epsilon = 0.02;
    metric.steps = 20;
    const MetricResult ascent = compute_metric(*model, x, torch::arange(3), metric);
    EXPECT_TRUE((ascent.value <= certified.psi_upper * (1 + 1e-5) + 1e-6).all().item<bool>())
        << ascent.value << certified.psi_upper;
    for (int64_t s = 0; s < 3; ++s) {
      const torch::Tensor clean = x[s].unsqueeze(0).expand({1000, 1, 28, 28});
      const torch::Tensor points =
          random_start(ThreatModel{Norm::kLinf, 0.02}, RandomStart::kUniform, 0, clean,
                       torch::arange(1000) + 1000 * s, 5, 0);
      EXPECT_LE(prediction_divergence(*model, clean, points, metric).max().item<double>(),
                certified.psi_upper[s].item<double>() * (1 + 1e-5) + 1e-6);
    }
  }
}

TEST_F(TorchScriptBounds, AResidualAndAVggNetworkTracedFromPyTorchCertifySoundly) {
  for (const std::string name : {"resnet", "vgg"}) {
    SCOPED_TRACE(name);
    const std::unique_ptr<Classifier> model = traced(name);
    const torch::Tensor x = images(4, 13);
    torch::Tensor logits, classes;
    {
      torch::NoGradGuard no_grad;
      logits = model->forward(x);
      classes = logits.argmax(1);
    }
    const torch::Tensor spec = margins_against(classes, 10);
    // A ball of radius 0: both methods give the clean differences themselves.
    const torch::Tensor clean = (spec * logits.unsqueeze(1)).sum(2);
    for (const BoundMethod method : {BoundMethod::kIbp, BoundMethod::kCrown}) {
      const SpecificationBounds point =
          bound_specification(*model, x, spec, ThreatModel{Norm::kLinf, 0.0}, method);
      EXPECT_TENSORS_CLOSE(point.lower, clean, 1e-4, 1e-4);
      EXPECT_TENSORS_CLOSE(point.upper, clean, 1e-4, 1e-4);
    }
    const double epsilon = 0.01;
    const SpecificationBounds crown = bound_specification(
        *model, x, spec, ThreatModel{Norm::kLinf, epsilon}, BoundMethod::kCrown);
    const SpecificationBounds ibp =
        bound_specification(*model, x, spec, ThreatModel{Norm::kLinf, epsilon}, BoundMethod::kIbp);
    EXPECT_TRUE((crown.upper <= ibp.upper + 1e-5).all().item<bool>());
    EXPECT_TRUE(crown.upper.isfinite().all().item<bool>());
    for (int64_t s = 0; s < 4; ++s) {
      const torch::Tensor centre = x[s].unsqueeze(0).expand({1000, 1, 28, 28});
      const torch::Tensor points =
          random_start(ThreatModel{Norm::kLinf, epsilon}, RandomStart::kUniform, 0, centre,
                       torch::arange(1000) + 1000 * s, 5, 0);
      torch::NoGradGuard no_grad;
      const torch::Tensor differences =
          (spec[s].unsqueeze(0) * model->forward(points).unsqueeze(1)).sum(2);
      EXPECT_TRUE((differences <= crown.upper[s] + 1e-4).all().item<bool>()) << "sample " << s;
      EXPECT_TRUE((differences >= crown.lower[s] - 1e-4).all().item<bool>()) << "sample " << s;
    }
  }
}

TEST_F(TorchScriptBounds, AnUnsupportedOperationIsNamedWithItsPlaceInTheGraph) {
  const std::unique_ptr<Classifier> model = traced("sigmoid");
  std::string why;
  EXPECT_FALSE(can_bound(*model, {1, 28, 28}, why));
  EXPECT_NE(why.find("bound propagation does not support aten::sigmoid at %"), std::string::npos)
      << why;
  EXPECT_EQ(why.find("Impl"), std::string::npos) << why;
  CertifyConfig config;
  config.epsilon = 0.01;
  EXPECT_ERROR_CONTAINING(certify(*model, images(1, 1), torch::zeros({1}, torch::kInt64), config),
                          "aten::sigmoid at %");
}

}  // namespace
}  // namespace robustscope
