// External TorchScript models exported by PyTorch (Debian's python3-torch) run through the
// Classifier interface and give PyTorch's logits.
#include <gtest/gtest.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "core/models/model_source.hpp"
#include "core/models/torchscript_classifier.hpp"
#include "support/temp_dir.hpp"
#include "support/tensor_assertions.hpp"

namespace robustscope {
namespace {

using testing::TempDir;

torch::Tensor read_floats(const std::string& path, std::vector<int64_t> sizes) {
  const std::string bytes = testing::read_file(path);
  torch::Tensor out = torch::empty(sizes, torch::kFloat32);
  EXPECT_EQ(bytes.size(), out.numel() * sizeof(float)) << path;
  std::memcpy(out.data_ptr<float>(), bytes.data(), std::min<size_t>(bytes.size(), out.nbytes()));
  return out;
}

class TorchScript : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::python().empty())
      GTEST_SKIP() << "no Python with torch was found at configure time";
    const auto result = testing::run_command(
        testing::python() + " " ROBUSTSCOPE_SOURCE_DIR "/tests/core/models/export_torchscript.py " +
        dir_.path().string());
    ASSERT_EQ(result.exit_code, 0) << result.output;
  }
  TempDir dir_;
};

TEST_F(TorchScript, TracedAndScriptedModelsGivePyTorchsLogits) {
  const torch::Tensor x = read_floats(dir_.file("input.f32"), {5, 1, 28, 28});
  for (const std::string name : {"traced", "scripted"}) {
    auto model = load_classifier({"torchscript", dir_.file(name + ".pt")}, dataset_info("mnist"),
                                 torch::kCPU);
    torch::NoGradGuard no_grad;
    const torch::Tensor expected = read_floats(dir_.file(name + "_logits.f32"), {5, 10});
    EXPECT_TENSORS_CLOSE(model->forward(x), expected, 1e-5, 1e-5) << name;
    EXPECT_EQ(model->description(), "torchscript(" + dir_.file(name + ".pt") + ")");
  }
}

TEST_F(TorchScript, GradientsFlowToTheInput) {
  TorchScriptClassifier model(dir_.file("scripted.pt"), torch::kCPU);
  torch::Tensor x = read_floats(dir_.file("input.f32"), {5, 1, 28, 28}).requires_grad_(true);
  model.forward(x).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_GT(x.grad().abs().sum().item<double>(), 0.0);
}

TEST_F(TorchScript, WrongOutputShapeAndMissingFilesAreRefused) {
  EXPECT_ERROR_CONTAINING(load_classifier({"torchscript", dir_.file("wrong_classes.pt")},
                                          dataset_info("mnist"), torch::kCPU),
                          "inputs to shape [2, 7], expected [2, 10]");
  EXPECT_ERROR_CONTAINING(load_classifier({"torchscript", dir_.file("traced.pt")},
                                          dataset_info("cifar10"), torch::kCPU),
                          "fails on inputs of shape [N, 3x32x32]");
  EXPECT_ERROR_CONTAINING(TorchScriptClassifier(dir_.file("absent.pt"), torch::kCPU),
                          "absent.pt: TorchScript model file does not exist");
  testing::write_file(dir_.file("garbage.pt"), "garbage");
  EXPECT_ERROR_CONTAINING(TorchScriptClassifier(dir_.file("garbage.pt"), torch::kCPU),
                          "not a loadable TorchScript model");
}

}  // namespace
}  // namespace robustscope
