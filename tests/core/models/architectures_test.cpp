// Built-in architectures: shapes on MNIST and CIFAR-10 inputs, documented parameter counts,
// validation.
#include <gtest/gtest.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "core/models/architectures.hpp"
#include "core/runtime/device.hpp"
#include "support/temp_dir.hpp"
#include "support/tensor_assertions.hpp"

namespace robustscope {
namespace {

struct CountCase {
  std::string architecture;
  std::map<std::string, int64_t> arguments;
  std::string dataset;
  int64_t parameters;  // docs/models.md; independent PyTorch definitions give the same numbers
};

void PrintTo(const CountCase& c, std::ostream* out) {
  *out << c.architecture << " on " << c.dataset;
}

class ArchitectureCounts : public ::testing::TestWithParam<CountCase> {};

TEST_P(ArchitectureCounts, ParameterCountIsAsDocumented) {
  const CountCase& c = GetParam();
  BuiltinClassifier model(
      ArchitectureConfig::for_dataset(c.architecture, dataset_info(c.dataset), c.arguments));
  EXPECT_EQ(model.parameter_count(), c.parameters) << model.description();
}

INSTANTIATE_TEST_SUITE_P(
    Documented, ArchitectureCounts,
    ::testing::Values(CountCase{"mlp", {}, "mnist", 269322},
                      CountCase{"mlp", {}, "cifar10", 855050},
                      CountCase{"small-cnn", {}, "mnist", 3274634},
                      CountCase{"small-cnn", {}, "cifar10", 4259274},
                      CountCase{"vgg", {}, "mnist", 9227210},
                      CountCase{"vgg", {}, "cifar10", 9228362},
                      CountCase{"vgg", {{"depth", 16}}, "cifar10", 14724042},
                      CountCase{"preact-resnet18", {}, "mnist", 11171018},
                      CountCase{"preact-resnet18", {}, "cifar10", 11172170},
                      // WRN-28-10 on CIFAR-10: 36.5M, as published by Zagoruyko & Komodakis.
                      CountCase{"wide-resnet", {}, "cifar10", 36479194},
                      CountCase{"wide-resnet", {{"depth", 16}, {"widen", 4}}, "cifar10", 2748890}),
    [](const auto& info) {
      std::string name = info.param.architecture + "_" + info.param.dataset;
      for (const auto& [key, value] : info.param.arguments)
        name += "_" + key + std::to_string(value);
      for (char& ch : name)
        if (ch == '-') ch = '_';
      return name;
    });

class ArchitectureShapes : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(ArchitectureShapes, MapsABatchToLogitsPerClass) {
  const auto& [architecture, dataset] = GetParam();
  const DatasetInfo info = dataset_info(dataset);
  // Narrow variants keep the test fast; the layer structure is the same.
  std::map<std::string, int64_t> arguments;
  if (architecture == "vgg" || architecture == "preact-resnet18") arguments["width"] = 8;
  if (architecture == "wide-resnet") arguments["widen"] = 1;
  seed_all(0);
  BuiltinClassifier model(ArchitectureConfig::for_dataset(architecture, info, arguments));
  model.set_training(false);
  torch::NoGradGuard no_grad;
  const torch::Tensor logits = model.forward(torch::rand(info.shape.batch_sizes(3)));
  EXPECT_EQ(logits.sizes(), torch::IntArrayRef({3, 10}));
  EXPECT_TRUE(logits.isfinite().all().item<bool>());
  EXPECT_NO_THROW(check_output_shape(model, info.shape, 10, torch::kCPU, "test"));
}

INSTANTIATE_TEST_SUITE_P(AllArchitectures, ArchitectureShapes,
                         ::testing::Combine(::testing::Values("mlp", "small-cnn", "vgg",
                                                              "preact-resnet18", "wide-resnet"),
                                            ::testing::Values("mnist", "cifar10")),
                         [](const auto& info) {
                           std::string name =
                               std::get<0>(info.param) + "_" + std::get<1>(info.param);
                           for (char& ch : name)
                             if (ch == '-') ch = '_';
                           return name;
                         });

TEST(Architectures, NormalisationIsTheModelsFirstOperation) {
  DatasetInfo plain = dataset_info("mnist");
  plain.mean = {0.0};
  plain.stddev = {1.0};
  DatasetInfo normalised = plain;
  normalised.mean = {0.25};
  normalised.stddev = {0.5};
  seed_all(3);
  BuiltinClassifier a(
      ArchitectureConfig::for_dataset("small-cnn", normalised, {{"channels", 4}, {"hidden", 16}}));
  seed_all(3);
  BuiltinClassifier b(
      ArchitectureConfig::for_dataset("small-cnn", plain, {{"channels", 4}, {"hidden", 16}}));
  const torch::Tensor x = torch::rand({5, 1, 28, 28});
  EXPECT_TENSORS_CLOSE(a.forward(x), b.forward((x - 0.25) / 0.5), 1e-6, 1e-5);
}

TEST(Architectures, InvalidConfigurationsAreNamed) {
  const DatasetInfo info = dataset_info("mnist");
  EXPECT_ERROR_CONTAINING(
      ArchitectureConfig::for_dataset("resnet50", info),
      "\"resnet50\" is unknown (known: mlp, preact-resnet18, small-cnn, vgg, wide-resnet)");
  EXPECT_ERROR_CONTAINING(ArchitectureConfig::for_dataset("mlp", info, {{"width", 3}}),
                          "argument \"width\" is unknown (known: hidden, layers)");
  EXPECT_ERROR_CONTAINING(ArchitectureConfig::for_dataset("vgg", info, {{"depth", 12}}),
                          "depth=12 is not one of 11, 13, 16, 19");
  EXPECT_ERROR_CONTAINING(ArchitectureConfig::for_dataset("wide-resnet", info, {{"depth", 27}}),
                          "not of the form 6n+4");
  EXPECT_ERROR_CONTAINING(ArchitectureConfig::for_dataset("small-cnn", info, {{"hidden", 0}}),
                          "hidden: architecture small-cnn: 0 is outside 1..65536");
}

TEST(Architectures, OutputShapeCheckNamesBothShapes) {
  BuiltinClassifier model(
      ArchitectureConfig::for_dataset("mlp", dataset_info("mnist"), {{"hidden", 8}}));
  EXPECT_ERROR_CONTAINING(
      check_output_shape(model, {1, 28, 28}, 100, torch::kCPU, "model.pt"),
      "model.pt: the model maps [2, 1x28x28] inputs to shape [2, 10], expected [2, 100]");
  EXPECT_ERROR_CONTAINING(check_output_shape(model, {3, 32, 32}, 10, torch::kCPU, "model.pt"),
                          "model.pt: the model fails on inputs of shape [N, 3x32x32]");
}

}  // namespace
}  // namespace robustscope
