// Built-in architectures, parameterised by input shape and number of classes:
//   mlp              fully connected ReLU net            (hidden=256, layers=2)
//   small-cnn        LeNet/Madry et al. 2018 MNIST CNN   (channels=32, hidden=1024)
//   vgg              VGG-style conv-BN-ReLU stages       (depth=11|13|16|19, width=64)
//   preact-resnet18  He et al. 2016, pre-activation      (width=64)
//   wide-resnet      Zagoruyko & Komodakis 2016, WRN-d-k (depth=28, widen=10)
// Parameter counts are listed in docs/models.md. Inputs are [0,1] pixels: the per-channel mean/std
// normalisation is the first operation of every network.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <map>
#include <string>
#include <vector>

#include "core/data/dataset.hpp"
#include "core/models/classifier.hpp"

namespace robustscope {

struct ArchitectureConfig {
  std::string name;
  InputShape input;
  int64_t num_classes = 10;
  std::vector<double> mean{0.0};  // per channel, applied inside the model
  std::vector<double> stddev{1.0};
  std::map<std::string, int64_t> arguments;  // architecture-specific; see the table above

  // The configuration for data set `info` (shape, classes, normalisation).
  static ArchitectureConfig for_dataset(const std::string& name, const DatasetInfo& info,
                                        std::map<std::string, int64_t> arguments = {});
};

std::vector<std::string> known_architectures();

// "small-cnn(channels=32, hidden=1024) on 1x28x28 -> 10"
std::string describe_architecture(const ArchitectureConfig& config);

// Fills in default arguments and validates the rest: an unknown architecture or argument, or an
// out-of-range value, throws Error naming it and the allowed values.
ArchitectureConfig resolve_architecture(const ArchitectureConfig& config);

// Pre-activation residual block (He et al. 2016): BN-ReLU-conv3x3-BN-ReLU-conv3x3, with a 1x1
// projection shortcut from the pre-activated input when the shape changes. Shared by PreAct ResNet
// and WideResNet, whose blocks are the same; its pieces are exposed for analyses that walk the
// network (bound propagation).
class PreActBlockImpl : public torch::nn::Module {
 public:
  PreActBlockImpl(int64_t in, int64_t out, int64_t stride);
  torch::Tensor forward(torch::Tensor x);

  const torch::nn::BatchNorm2d& bn1() const { return bn1_; }
  const torch::nn::Conv2d& conv1() const { return conv1_; }
  const torch::nn::BatchNorm2d& bn2() const { return bn2_; }
  const torch::nn::Conv2d& conv2() const { return conv2_; }
  const torch::nn::Conv2d& shortcut() const { return shortcut_; }  // empty for the identity

 private:
  torch::nn::BatchNorm2d bn1_;
  torch::nn::Conv2d conv1_;
  torch::nn::BatchNorm2d bn2_;
  torch::nn::Conv2d conv2_;
  torch::nn::Conv2d shortcut_{nullptr};
};
TORCH_MODULE(PreActBlock);

// Per-channel normalisation followed by the architecture's body.
class ImageClassifierImpl : public torch::nn::Module {
 public:
  explicit ImageClassifierImpl(const ArchitectureConfig& config);
  torch::Tensor forward(torch::Tensor images);
  const ArchitectureConfig& config() const { return config_; }
  // The pieces, for analyses that walk the network (bound propagation): the input normalisation
  // (x − mean)/stddev, per channel [1, C, 1, 1], and the body after it.
  const torch::Tensor& mean() const { return mean_; }
  const torch::Tensor& stddev() const { return stddev_; }
  const torch::nn::Sequential& body() const { return body_; }

 private:
  ArchitectureConfig config_;
  torch::Tensor mean_, stddev_;
  torch::nn::Sequential body_{nullptr};
};
TORCH_MODULE(ImageClassifier);

// A built-in architecture behind the Classifier interface.
class BuiltinClassifier : public Classifier {
 public:
  explicit BuiltinClassifier(const ArchitectureConfig& config);

  torch::Tensor forward(const torch::Tensor& images) override;
  void set_training(bool training) override;
  void to(torch::Device device) override;
  std::vector<torch::Tensor> parameters() override;
  std::string description() const override;

  ImageClassifier& network() { return network_; }
  const ArchitectureConfig& config() const { return network_->config(); }
  int64_t parameter_count() const;

 private:
  ImageClassifier network_;
};

}  // namespace robustscope
