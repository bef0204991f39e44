// Reparameterisations of built-in models.
#include "core/models/reparameterize.hpp"

#include <torch/nn.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <cmath>

#include "core/error.hpp"
#include "core/settings.hpp"

namespace robustscope {

void Reparameterization::set(const std::string& key, const std::string& value) {
  double* field = key == "last_layer_scale" ? &last_layer_scale
                  : key == "relu_rescale"   ? &relu_rescale
                                            : nullptr;
  if (!field)
    throw Error::unknown_key("reparameterize setting", key, "last_layer_scale, relu_rescale");
  *field = parse_number(key, value);
  if (!(*field > 0) || !std::isfinite(*field))
    throw Error::for_key(key, "must be positive and finite, got " + value);
}

std::map<std::string, std::string> Reparameterization::to_entries() const {
  return {{"last_layer_scale", format_number(last_layer_scale)},
          {"relu_rescale", format_number(relu_rescale)}};
}

void reparameterize(BuiltinClassifier& model, const Reparameterization& change) {
  // The weight layers in forward order, and what lies between the first two.
  std::vector<std::shared_ptr<torch::nn::Module>> layers;
  std::vector<std::string> between;
  for (const auto& module : model.network()->modules(/*include_self=*/false)) {
    const std::string name = module->name();
    const bool weighted = name == "torch::nn::LinearImpl" || name == "torch::nn::Conv2dImpl";
    if (weighted) {
      layers.push_back(module);
    } else if (layers.size() == 1 && name != "torch::nn::SequentialImpl") {
      between.push_back(name);
    }
  }
  if (layers.size() < 2)
    throw Error("reparameterize", "the model has fewer than two weight layers");
  torch::NoGradGuard no_grad;
  // The parameter itself (a tensor sharing its storage), or an undefined tensor.
  auto parameter = [](const std::shared_ptr<torch::nn::Module>& module, const char* name) {
    const auto parameters = module->named_parameters(false);
    const torch::Tensor* found = parameters.find(name);
    return found ? *found : torch::Tensor();
  };
  if (change.relu_rescale != 1) {
    for (const std::string& name : between) {
      if (name != "torch::nn::ReLUImpl" && name != "torch::nn::MaxPool2dImpl")
        throw Error("reparameterize relu_rescale",
                    "needs only ReLU and max-pooling between the first two weight layers (mlp, "
                    "small-cnn); " +
                        model.description() + " has " + name);
    }
    parameter(layers[0], "weight").mul_(change.relu_rescale);
    if (torch::Tensor bias = parameter(layers[0], "bias"); bias.defined())
      bias.mul_(change.relu_rescale);
    parameter(layers[1], "weight").div_(change.relu_rescale);
  }
  if (change.last_layer_scale != 1) {
    parameter(layers.back(), "weight").mul_(change.last_layer_scale);
    if (torch::Tensor bias = parameter(layers.back(), "bias"); bias.defined())
      bias.mul_(change.last_layer_scale);
  }
}

}  // namespace robustscope
