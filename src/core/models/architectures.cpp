// Built-in architectures. Each body maps normalised images to logits.
#include "core/models/architectures.hpp"

#include <torch/nn.h>
#include <torch/types.h>

#include <algorithm>

#include "core/error.hpp"
#include "core/runtime/libtorch_compat.hpp"
#include "core/settings.hpp"

namespace robustscope {
namespace nn = torch::nn;
namespace {

nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
                bool bias) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(bias));
}

// mlp: flatten, `layers` hidden ReLU layers of width `hidden`, linear output.
nn::Sequential make_mlp(const ArchitectureConfig& config) {
  const auto& args = config.arguments;
  nn::Sequential net;
  net->push_back(nn::Flatten());
  int64_t width = config.input.channels * config.input.height * config.input.width;
  for (int64_t layer = 0; layer < args.at("layers"); ++layer) {
    net->push_back(nn::Linear(width, args.at("hidden")));
    net->push_back(nn::ReLU());
    width = args.at("hidden");
  }
  net->push_back(nn::Linear(width, config.num_classes));
  return net;
}

// small-cnn (Madry et al. 2018, MNIST): conv5x5(c)-ReLU-pool, conv5x5(2c)-ReLU-pool,
// fc(hidden)-ReLU, fc(classes). 'same' padding, so 28x28 inputs reach the fc layer as 7x7.
nn::Sequential make_small_cnn(const ArchitectureConfig& config) {
  const auto& args = config.arguments;
  const int64_t channels = args.at("channels");
  const int64_t pooled = (config.input.height / 2 / 2) * (config.input.width / 2 / 2);
  return nn::Sequential(conv(config.input.channels, channels, 5, 1, 2, true), nn::ReLU(),
                        nn::MaxPool2d(2), conv(channels, 2 * channels, 5, 1, 2, true), nn::ReLU(),
                        nn::MaxPool2d(2), nn::Flatten(),
                        nn::Linear(2 * channels * pooled, args.at("hidden")), nn::ReLU(),
                        nn::Linear(args.at("hidden"), config.num_classes));
}

// vgg (Simonyan & Zisserman 2015, CIFAR variant with BatchNorm and one linear classifier). Stage
// widths are width×{1,2,4,8,8}; a pooling is skipped once the feature map is 1 pixel wide, so small
// inputs (28x28) work too.
nn::Sequential make_vgg(const ArchitectureConfig& config) {
  static const std::map<int64_t, std::vector<std::vector<int64_t>>> kStages = {
      {11, {{1}, {2}, {4, 4}, {8, 8}, {8, 8}}},
      {13, {{1, 1}, {2, 2}, {4, 4}, {8, 8}, {8, 8}}},
      {16, {{1, 1}, {2, 2}, {4, 4, 4}, {8, 8, 8}, {8, 8, 8}}},
      {19, {{1, 1}, {2, 2}, {4, 4, 4, 4}, {8, 8, 8, 8}, {8, 8, 8, 8}}}};
  const int64_t width = config.arguments.at("width");
  nn::Sequential net;
  int64_t in = config.input.channels;
  int64_t size = std::min(config.input.height, config.input.width);
  for (const auto& stage : kStages.at(config.arguments.at("depth"))) {
    for (int64_t multiple : stage) {
      net->push_back(conv(in, width * multiple, 3, 1, 1, false));
      net->push_back(nn::BatchNorm2d(width * multiple));
      net->push_back(nn::ReLU());
      in = width * multiple;
    }
    if (size >= 2) {
      net->push_back(nn::MaxPool2d(2));
      size /= 2;
    }
  }
  net->push_back(nn::AdaptiveAvgPool2d(1));
  net->push_back(nn::Flatten());
  net->push_back(nn::Linear(in, config.num_classes));
  return net;
}

// Stem conv, stages of PreActBlocks, final BN-ReLU, global average pool, linear.
nn::Sequential make_residual_net(const ArchitectureConfig& config, int64_t stem_width,
                                 const std::vector<int64_t>& stage_widths,
                                 const std::vector<int64_t>& stage_strides, int64_t blocks) {
  nn::Sequential net(conv(config.input.channels, stem_width, 3, 1, 1, false));
  int64_t in = stem_width;
  for (size_t stage = 0; stage < stage_widths.size(); ++stage) {
    for (int64_t block = 0; block < blocks; ++block) {
      net->push_back(PreActBlock(in, stage_widths[stage], block == 0 ? stage_strides[stage] : 1));
      in = stage_widths[stage];
    }
  }
  net->push_back(nn::BatchNorm2d(in));
  net->push_back(nn::ReLU());
  net->push_back(nn::AdaptiveAvgPool2d(1));
  net->push_back(nn::Flatten());
  net->push_back(nn::Linear(in, config.num_classes));
  return net;
}

// PreAct ResNet-18: four stages of two blocks, widths width×{1,2,4,8}, with the final BN-ReLU of
// the adversarial-training literature (Rice et al. 2020).
nn::Sequential make_preact_resnet18(const ArchitectureConfig& config) {
  const int64_t width = config.arguments.at("width");
  return make_residual_net(config, width, {width, 2 * width, 4 * width, 8 * width}, {1, 2, 2, 2},
                           2);
}

// WRN-depth-widen: three stages of (depth-4)/6 blocks, widths 16·widen×{1,2,4}.
nn::Sequential make_wide_resnet(const ArchitectureConfig& config) {
  const int64_t widen = config.arguments.at("widen");
  const int64_t blocks = (config.arguments.at("depth") - 4) / 6;
  return make_residual_net(config, 16, {16 * widen, 32 * widen, 64 * widen}, {1, 2, 2}, blocks);
}

struct ArgumentRule {
  int64_t default_value;
  int64_t min_value;
  int64_t max_value;
};

const std::map<std::string, std::map<std::string, ArgumentRule>>& argument_rules() {
  static const std::map<std::string, std::map<std::string, ArgumentRule>> kRules = {
      {"mlp", {{"hidden", {256, 1, 1 << 16}}, {"layers", {2, 0, 64}}}},
      {"small-cnn", {{"channels", {32, 1, 4096}}, {"hidden", {1024, 1, 1 << 16}}}},
      {"vgg", {{"depth", {11, 11, 19}}, {"width", {64, 1, 4096}}}},
      {"preact-resnet18", {{"width", {64, 1, 4096}}}},
      {"wide-resnet", {{"depth", {28, 10, 1000}}, {"widen", {10, 1, 64}}}}};
  return kRules;
}

}  // namespace

PreActBlockImpl::PreActBlockImpl(int64_t in, int64_t out, int64_t stride)
    : bn1_(register_module("bn1", nn::BatchNorm2d(in))),
      conv1_(register_module("conv1", conv(in, out, 3, stride, 1, false))),
      bn2_(register_module("bn2", nn::BatchNorm2d(out))),
      conv2_(register_module("conv2", conv(out, out, 3, 1, 1, false))) {
  if (stride != 1 || in != out)
    shortcut_ = register_module("shortcut", conv(in, out, 1, stride, 0, false));
}

torch::Tensor PreActBlockImpl::forward(torch::Tensor x) {
  torch::Tensor activated = torch::relu(bn1_(x));
  torch::Tensor shortcut = shortcut_ ? shortcut_(activated) : x;
  torch::Tensor out = conv1_(activated);
  out = conv2_(torch::relu(bn2_(out)));
  return out + shortcut;
}

std::vector<std::string> known_architectures() {
  std::vector<std::string> names;
  for (const auto& [name, rules] : argument_rules()) names.push_back(name);
  return names;
}

ArchitectureConfig ArchitectureConfig::for_dataset(const std::string& name, const DatasetInfo& info,
                                                   std::map<std::string, int64_t> arguments) {
  ArchitectureConfig config;
  config.name = name;
  config.input = info.shape;
  config.num_classes = info.num_classes;
  config.mean = info.mean;
  config.stddev = info.stddev;
  config.arguments = std::move(arguments);
  return resolve_architecture(config);
}

ArchitectureConfig resolve_architecture(const ArchitectureConfig& config) {
  const auto rules = argument_rules().find(config.name);
  if (rules == argument_rules().end()) {
    throw Error::for_key(
        "arch", "\"" + config.name + "\" is unknown (known: " + join(known_architectures()) + ")");
  }
  ArchitectureConfig resolved = config;
  for (const auto& [key, value] : config.arguments) {
    const auto rule = rules->second.find(key);
    if (rule == rules->second.end()) {
      std::vector<std::string> allowed;
      for (const auto& [allowed_key, unused] : rules->second) allowed.push_back(allowed_key);
      throw Error(Location::of_key(key, Location::Subject::kKeyName),
                  "architecture " + config.name + ": argument \"" + key +
                      "\" is unknown (known: " + join(allowed) + ")");
    }
    if (value < rule->second.min_value || value > rule->second.max_value) {
      throw Error::for_key(key, "architecture " + config.name + ": " + std::to_string(value) +
                                    " is outside " + std::to_string(rule->second.min_value) + ".." +
                                    std::to_string(rule->second.max_value));
    }
  }
  for (const auto& [key, rule] : rules->second) resolved.arguments.emplace(key, rule.default_value);
  const int64_t depth = resolved.arguments.count("depth") ? resolved.arguments.at("depth") : 0;
  if (config.name == "vgg" && depth != 11 && depth != 13 && depth != 16 && depth != 19) {
    throw Error::for_key("depth", "architecture vgg: depth=" + std::to_string(depth) +
                                      " is not one of 11, 13, 16, 19");
  }
  if (config.name == "wide-resnet" && (depth - 4) % 6 != 0) {
    throw Error::for_key("depth", "architecture wide-resnet: depth=" + std::to_string(depth) +
                                      " is not of the form 6n+4 (e.g. 16, 28, 34, 40)");
  }
  const auto channels = static_cast<size_t>(config.input.channels);
  if (config.input.channels <= 0 || config.input.height <= 0 || config.input.width <= 0 ||
      config.num_classes < 2) {
    throw Error("architecture " + config.name,
                "input shape " + config.input.to_string() + " or class count " +
                    std::to_string(config.num_classes) + " is invalid");
  }
  if (config.mean.size() != channels || config.stddev.size() != channels) {
    throw Error(
        "architecture " + config.name,
        "normalisation needs one mean and one std per channel (" + std::to_string(channels) + ")");
  }
  for (double s : config.stddev) {
    if (!(s > 0)) throw Error("architecture " + config.name, "normalisation std must be positive");
  }
  if (config.name == "small-cnn" && (config.input.height < 4 || config.input.width < 4)) {
    throw Error("architecture small-cnn", "needs inputs of at least 4x4");
  }
  return resolved;
}

ImageClassifierImpl::ImageClassifierImpl(const ArchitectureConfig& config)
    : config_(resolve_architecture(config)) {
  const int64_t channels = config_.input.channels;
  mean_ = register_buffer("mean",
                          torch::tensor(config_.mean, torch::kFloat32).view({1, channels, 1, 1}));
  stddev_ = register_buffer(
      "stddev", torch::tensor(config_.stddev, torch::kFloat32).view({1, channels, 1, 1}));
  nn::Sequential body;
  if (config_.name == "mlp") body = make_mlp(config_);
  if (config_.name == "small-cnn") body = make_small_cnn(config_);
  if (config_.name == "vgg") body = make_vgg(config_);
  if (config_.name == "preact-resnet18") body = make_preact_resnet18(config_);
  if (config_.name == "wide-resnet") body = make_wide_resnet(config_);
  body_ = register_module("body", body);
}

torch::Tensor ImageClassifierImpl::forward(torch::Tensor images) {
  return body_->forward((images - mean_) / stddev_);
}

BuiltinClassifier::BuiltinClassifier(const ArchitectureConfig& config) : network_(config) {
  compat::turn_off_nnpack();
}

torch::Tensor BuiltinClassifier::forward(const torch::Tensor& images) {
  return network_->forward(images);
}

void BuiltinClassifier::set_training(bool training) { network_->train(training); }

void BuiltinClassifier::to(torch::Device device) { network_->to(device); }

std::vector<torch::Tensor> BuiltinClassifier::parameters() { return network_->parameters(); }

std::string describe_architecture(const ArchitectureConfig& config) {
  std::string text = config.name + "(";
  bool first = true;
  for (const auto& [key, value] : config.arguments) {
    text += (first ? "" : ", ") + key + "=" + std::to_string(value);
    first = false;
  }
  return text + ") on " + config.input.to_string() + " -> " + std::to_string(config.num_classes);
}

std::string BuiltinClassifier::description() const { return describe_architecture(config()); }

int64_t BuiltinClassifier::parameter_count() const {
  int64_t count = 0;
  for (const auto& parameter : network_->parameters()) count += parameter.numel();
  return count;
}

}  // namespace robustscope
