// IBP and CROWN through the supported layers of the built-in architectures.
#include "core/certify/bounds.hpp"

#include <torch/nn.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <memory>
#include <variant>
#include <vector>

#include "core/error.hpp"
#include "core/models/architectures.hpp"
#include "core/runtime/libtorch_compat.hpp"

namespace robustscope {
namespace nn = torch::nn;
namespace {

// One operation of the network as the bounds see it.
struct Normalize {  // (x − mean)/stddev, per channel
  torch::Tensor mean, stddev;
};
struct Linear {
  torch::Tensor weight, bias;  // [out, in], [out] (bias may be undefined)
};
struct Conv {
  torch::Tensor weight, bias;
  std::vector<int64_t> stride, padding;
};
struct ChannelAffine {  // BatchNorm2d in eval mode: x·scale + shift per channel
  torch::Tensor scale, shift;
};
struct Relu {};
struct MaxPool {
  int64_t kernel, stride;
};
struct GlobalAveragePool {};
struct Flatten {};
using Operation =
    std::variant<Normalize, Linear, Conv, ChannelAffine, Relu, MaxPool, GlobalAveragePool, Flatten>;

std::vector<Operation> operations_of(Classifier& classifier, std::string& why) {
  auto* builtin = dynamic_cast<BuiltinClassifier*>(&classifier);
  if (!builtin) {
    why = classifier.description() +
          ": bound propagation needs a built-in architecture (a TorchScript model's operations are "
          "not known to it)";
    return {};
  }
  const ImageClassifierImpl& network = *builtin->network();
  std::vector<Operation> operations = {Normalize{network.mean(), network.stddev()}};
  int64_t position = 0;
  for (const auto& item : network.body()->named_children()) {
    const auto& child = item.value();
    ++position;
    if (auto linear = std::dynamic_pointer_cast<nn::LinearImpl>(child)) {
      operations.push_back(Linear{linear->weight, linear->bias});
    } else if (auto conv = std::dynamic_pointer_cast<nn::Conv2dImpl>(child)) {
      const auto& options = conv->options;
      const auto padding = compat::conv_padding(options);
      if (!padding || options.dilation()->at(0) != 1 || options.groups() != 1) {
        why = "a Conv2d with dilation, groups or named padding";
        return {};
      }
      operations.push_back(Conv{conv->weight,
                                conv->bias,
                                {options.stride()->at(0), options.stride()->at(1)},
                                {(*padding)[0], (*padding)[1]}});
    } else if (auto norm = std::dynamic_pointer_cast<nn::BatchNorm2dImpl>(child)) {
      const torch::Tensor scale = norm->weight / (norm->running_var + norm->options.eps()).sqrt();
      operations.push_back(ChannelAffine{scale, norm->bias - norm->running_mean * scale});
    } else if (std::dynamic_pointer_cast<nn::ReLUImpl>(child)) {
      operations.push_back(Relu{});
    } else if (auto pool = std::dynamic_pointer_cast<nn::MaxPool2dImpl>(child)) {
      const auto& options = pool->options;
      if (options.kernel_size()->at(0) != options.kernel_size()->at(1) ||
          options.stride()->at(0) != options.kernel_size()->at(0) ||
          options.padding()->at(0) != 0 || options.dilation()->at(0) != 1) {
        why = "a MaxPool2d other than non-overlapping square windows";
        return {};
      }
      operations.push_back(MaxPool{options.kernel_size()->at(0), options.stride()->at(0)});
    } else if (auto average = std::dynamic_pointer_cast<nn::AdaptiveAvgPool2dImpl>(child)) {
      const auto& size = average->options.output_size();
      if (size->at(0) != 1 || size->at(1) != 1) {
        why = "an AdaptiveAvgPool2d to other than 1x1";
        return {};
      }
      operations.push_back(GlobalAveragePool{});
    } else if (std::dynamic_pointer_cast<nn::FlattenImpl>(child)) {
      operations.push_back(Flatten{});
    } else {
      // The layer's own name without its C++ namespaces and holder suffix ("PreActBlock").
      std::string layer = child->name();
      layer = layer.substr(layer.rfind(':') == std::string::npos ? 0 : layer.rfind(':') + 1);
      if (layer.size() > 4 && layer.compare(layer.size() - 4, 4, "Impl") == 0)
        layer.resize(layer.size() - 4);
      why = builtin->description() + " has a " + layer + " at layer " + std::to_string(position) +
            " of its body (bound propagation supports Linear, Conv2d, ReLU, MaxPool2d, "
            "AdaptiveAvgPool2d, "
            "BatchNorm2d and Flatten in sequence; residual blocks are not supported)";
      return {};
    }
  }
  return operations;
}

torch::Tensor channel_view(const torch::Tensor& values, int64_t dims) {
  // [C] (or [1, C, 1, 1]) viewed to broadcast over [..., C, H, W] with `dims` trailing dimensions.
  std::vector<int64_t> shape(dims, 1);
  shape[0] = values.numel();
  return values.reshape(shape);
}

// ---------------------------------------------------------------- IBP

struct Interval {
  torch::Tensor lower, upper;
  torch::Tensor centre() const { return (upper + lower) / 2; }
  torch::Tensor radius() const { return (upper - lower) / 2; }
};

Interval affine_interval(const Interval& x,
                         const std::function<torch::Tensor(const torch::Tensor&)>& map,
                         const std::function<torch::Tensor(const torch::Tensor&)>& map_abs) {
  const torch::Tensor centre = map(x.centre());
  const torch::Tensor radius = map_abs(x.radius());
  return {centre - radius, centre + radius};
}

Interval propagate(const Operation& operation, const Interval& x) {
  return std::visit(
      [&](const auto& op) -> Interval {
        using Op = std::decay_t<decltype(op)>;
        if constexpr (std::is_same_v<Op, Normalize>) {
          return {(x.lower - op.mean) / op.stddev, (x.upper - op.mean) / op.stddev};
        } else if constexpr (std::is_same_v<Op, Linear>) {
          return affine_interval(
              x,
              [&](const torch::Tensor& t) {
                return torch::nn::functional::linear(t, op.weight, op.bias);
              },
              [&](const torch::Tensor& t) {
                return torch::nn::functional::linear(t, op.weight.abs());
              });
        } else if constexpr (std::is_same_v<Op, Conv>) {
          return affine_interval(
              x,
              [&](const torch::Tensor& t) {
                return torch::conv2d(t, op.weight, op.bias, op.stride, op.padding);
              },
              [&](const torch::Tensor& t) {
                return torch::conv2d(t, op.weight.abs(), {}, op.stride, op.padding);
              });
        } else if constexpr (std::is_same_v<Op, ChannelAffine>) {
          const torch::Tensor scale = channel_view(op.scale, 3), shift = channel_view(op.shift, 3);
          return {x.centre() * scale + shift - x.radius() * scale.abs(),
                  x.centre() * scale + shift + x.radius() * scale.abs()};
        } else if constexpr (std::is_same_v<Op, Relu>) {
          return {x.lower.clamp_min(0), x.upper.clamp_min(0)};
        } else if constexpr (std::is_same_v<Op, MaxPool>) {
          return {torch::max_pool2d(x.lower, op.kernel, op.stride),
                  torch::max_pool2d(x.upper, op.kernel, op.stride)};
        } else if constexpr (std::is_same_v<Op, GlobalAveragePool>) {
          return {x.lower.mean({2, 3}, true), x.upper.mean({2, 3}, true)};
        } else {
          return {x.lower.flatten(1), x.upper.flatten(1)};
        }
      },
      operation);
}

// ---------------------------------------------------------------- CROWN

// The backward pass keeps A [N, S, ...input shape of the current operation] and a bias [N, S]:
// the specification's lower bound is A·x + bias over the operation's input x.
struct LinearBound {
  torch::Tensor coefficients;  // [N, S, ...]
  torch::Tensor bias;          // [N, S]
};

// Σ over every dimension after the first two.
torch::Tensor sum_trailing(const torch::Tensor& t) { return t.flatten(2).sum(2); }

LinearBound backward(const Operation& operation, const LinearBound& bound, const Interval& input,
                     const std::vector<int64_t>& input_shape) {
  const torch::Tensor& a = bound.coefficients;
  const int64_t n = a.size(0), s = a.size(1);
  return std::visit(
      [&](const auto& op) -> LinearBound {
        using Op = std::decay_t<decltype(op)>;
        if constexpr (std::is_same_v<Op, Normalize>) {
          const torch::Tensor mean = op.mean.reshape({1, 1, -1, 1, 1});
          const torch::Tensor stddev = op.stddev.reshape({1, 1, -1, 1, 1});
          return {a / stddev, bound.bias - sum_trailing(a * mean / stddev)};
        } else if constexpr (std::is_same_v<Op, Linear>) {
          torch::Tensor bias = bound.bias;
          if (op.bias.defined()) bias = bias + torch::matmul(a, op.bias);
          return {torch::matmul(a, op.weight), bias};
        } else if constexpr (std::is_same_v<Op, Conv>) {
          const auto out_shape = a.sizes().slice(2);
          const torch::Tensor flat = a.reshape({n * s, out_shape[0], out_shape[1], out_shape[2]});
          // conv_transpose2d restores the input size up to output_padding.
          const int64_t kernel_h = op.weight.size(2), kernel_w = op.weight.size(3);
          const int64_t pad_h =
              input_shape[1] - ((out_shape[1] - 1) * op.stride[0] - 2 * op.padding[0] + kernel_h);
          const int64_t pad_w =
              input_shape[2] - ((out_shape[2] - 1) * op.stride[1] - 2 * op.padding[1] + kernel_w);
          const torch::Tensor back =
              torch::conv_transpose2d(flat, op.weight, {}, op.stride, op.padding, {pad_h, pad_w});
          torch::Tensor bias = bound.bias;
          if (op.bias.defined()) bias = bias + (a.sum({3, 4}) * op.bias.view({1, 1, -1})).sum(2);
          return {back.reshape({n, s, input_shape[0], input_shape[1], input_shape[2]}), bias};
        } else if constexpr (std::is_same_v<Op, ChannelAffine>) {
          const torch::Tensor scale = op.scale.reshape({1, 1, -1, 1, 1});
          const torch::Tensor shift = op.shift.reshape({1, 1, -1, 1, 1});
          return {a * scale, bound.bias + sum_trailing(a * shift)};
        } else if constexpr (std::is_same_v<Op, Relu>) {
          const torch::Tensor l = input.lower.unsqueeze(1), u = input.upper.unsqueeze(1);
          const torch::Tensor active = l >= 0, inactive = u <= 0;
          const torch::Tensor unstable = active.logical_not() & inactive.logical_not();
          const torch::Tensor upper_slope =
              torch::where(unstable, u / (u - l).clamp_min(1e-12), active.to(a.scalar_type()));
          const torch::Tensor upper_intercept =
              torch::where(unstable, -upper_slope * l, torch::zeros_like(l));
          const torch::Tensor lower_slope =
              torch::where(unstable, (u > -l).to(a.scalar_type()), active.to(a.scalar_type()));
          const torch::Tensor positive = a.clamp_min(0), negative = a.clamp_max(0);
          return {positive * lower_slope + negative * upper_slope,
                  bound.bias + sum_trailing(negative * upper_intercept)};
        } else if constexpr (std::is_same_v<Op, MaxPool>) {
          // Per window: j* = the input of largest lower bound. Lower: y ≥ x_j*. Upper: y = x_j*
          // when l_j* ≥ every other u in the window, else y ≤ max u.
          const auto [lower_max, index] =
              torch::max_pool2d_with_indices(input.lower, op.kernel, op.stride);
          const torch::Tensor upper_max = torch::max_pool2d(input.upper, op.kernel, op.stride);
          // The largest upper bound among the others: drop j* (set to −inf) and pool again.
          const torch::Tensor others =
              input.upper.flatten(2)
                  .scatter(2, index.flatten(2), -std::numeric_limits<float>::infinity())
                  .view_as(input.upper);
          const torch::Tensor dominant =
              (lower_max >= torch::max_pool2d(others, op.kernel, op.stride)).unsqueeze(1);
          const torch::Tensor positive = a.clamp_min(0), negative = a.clamp_max(0);
          const torch::Tensor to_input =
              positive + torch::where(dominant, negative, torch::zeros_like(negative));
          const torch::Tensor constant_part =
              torch::where(dominant, torch::zeros_like(negative), negative);
          // Scatter each window's coefficient to its input j*.
          const int64_t plane = input_shape[1] * input_shape[2];
          const torch::Tensor scattered =
              torch::zeros({n, s, input_shape[0], plane}, a.options())
                  .scatter_add(3, index.unsqueeze(1).expand_as(to_input).flatten(3),
                               to_input.flatten(3))
                  .view({n, s, input_shape[0], input_shape[1], input_shape[2]});
          return {scattered, bound.bias + sum_trailing(constant_part * upper_max.unsqueeze(1))};
        } else if constexpr (std::is_same_v<Op, GlobalAveragePool>) {
          const double area = static_cast<double>(input_shape[1] * input_shape[2]);
          return {(a / area)
                      .expand({n, s, input_shape[0], input_shape[1], input_shape[2]})
                      .contiguous(),
                  bound.bias};
        } else {
          std::vector<int64_t> shape = {n, s};
          shape.insert(shape.end(), input_shape.begin(), input_shape.end());
          return {a.reshape(shape), bound.bias};
        }
      },
      operation);
}

// The lower bound of A·x + bias over the threat model's set around the clean input.
torch::Tensor concretize(const LinearBound& bound, const torch::Tensor& images,
                         const ThreatModel& threat) {
  const torch::Tensor a = bound.coefficients.flatten(2);
  const torch::Tensor x = images.flatten(1).unsqueeze(1);
  if (threat.norm == Norm::kLinf) {
    const torch::Tensor low = (x - threat.epsilon).clamp(0.0, 1.0);
    const torch::Tensor high = (x + threat.epsilon).clamp(0.0, 1.0);
    return (a.clamp_min(0) * low + a.clamp_max(0) * high).sum(2) + bound.bias;
  }
  return (a * x).sum(2) - threat.epsilon * a.norm(2, 2) + bound.bias;
}

Interval input_interval(const torch::Tensor& images, const ThreatModel& threat) {
  if (threat.norm == Norm::kLinf)
    return {(images - threat.epsilon).clamp(0.0, 1.0), (images + threat.epsilon).clamp(0.0, 1.0)};
  // The L2 ball lies in the L∞ box of the same radius.
  return {(images - threat.epsilon).clamp(0.0, 1.0), (images + threat.epsilon).clamp(0.0, 1.0)};
}

}  // namespace

const EnumNames<BoundMethod>& bound_method_names() {
  static const EnumNames<BoundMethod> kNames(
      {{BoundMethod::kIbp, "ibp"}, {BoundMethod::kCrown, "crown"}});
  return kNames;
}

bool can_bound(Classifier& model, std::string& why) { return !operations_of(model, why).empty(); }

SpecificationBounds bound_specification(Classifier& model, const torch::Tensor& images,
                                        const torch::Tensor& specification,
                                        const ThreatModel& threat, BoundMethod method) {
  std::string why;
  const std::vector<Operation> operations = operations_of(model, why);
  if (operations.empty()) throw Error("certify", why);
  model.set_training(false);
  torch::NoGradGuard no_grad;
  // IBP forward, keeping every operation's input interval.
  std::vector<Interval> inputs = {input_interval(images, threat)};
  std::vector<std::vector<int64_t>> shapes;
  for (const Operation& operation : operations) {
    shapes.push_back(inputs.back().lower.sizes().slice(1).vec());
    inputs.push_back(propagate(operation, inputs.back()));
  }
  const Interval& logits = inputs.back();
  SpecificationBounds result;
  const torch::Tensor positive = specification.clamp_min(0), negative = specification.clamp_max(0);
  result.lower =
      (positive * logits.lower.unsqueeze(1) + negative * logits.upper.unsqueeze(1)).sum(2);
  result.upper =
      (positive * logits.upper.unsqueeze(1) + negative * logits.lower.unsqueeze(1)).sum(2);
  result.forward_equivalents = 2;  // two boxes through the network
  if (method == BoundMethod::kIbp) return result;
  // CROWN from the output: the lower bound of C·z and of −C·z, i.e. 2S rows at once.
  LinearBound bound{torch::cat({specification, -specification}, 1),
                    torch::zeros({images.size(0), 2 * specification.size(1)}, images.options())};
  for (int64_t i = static_cast<int64_t>(operations.size()) - 1; i >= 0; --i)
    bound = backward(operations[i], bound, inputs[i], shapes[i]);
  const torch::Tensor both = concretize(bound, images, threat);
  const int64_t s = specification.size(1);
  result.lower = torch::maximum(result.lower, both.slice(1, 0, s));
  result.upper = torch::minimum(result.upper, -both.slice(1, s, 2 * s));
  // A backward pass per specification row, each about one backward pass of the model.
  result.forward_equivalents += 2.0 * static_cast<double>(2 * s);
  return result;
}

}  // namespace robustscope
