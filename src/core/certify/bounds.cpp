// IBP and CROWN over a network's bound graph (bound_graph.hpp).
#include "core/certify/bounds.hpp"

#include <torch/nn.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <functional>
#include <limits>
#include <variant>
#include <vector>

#include "core/certify/bound_graph.hpp"
#include "core/error.hpp"

namespace robustscope {
namespace {

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

// The box of a node's output from the boxes of its inputs.
Interval propagate(const BoundNode& node, const std::vector<const Interval*>& inputs) {
  const Interval& x = *inputs.at(0);
  return std::visit(
      [&](const auto& op) -> Interval {
        using Op = std::decay_t<decltype(op)>;
        if constexpr (std::is_same_v<Op, AffineOp>) {
          const torch::Tensor centre = apply_operation(node, {x.centre()});
          const torch::Tensor radius =
              op.scale.defined() ? x.radius() * op.scale.abs() : x.radius();
          return {centre - radius, centre + radius};
        } else if constexpr (std::is_same_v<Op, LinearOp>) {
          return affine_interval(
              x,
              [&](const torch::Tensor& t) {
                return torch::nn::functional::linear(t, op.weight, op.bias);
              },
              [&](const torch::Tensor& t) {
                return torch::nn::functional::linear(t, op.weight.abs());
              });
        } else if constexpr (std::is_same_v<Op, ConvOp>) {
          return affine_interval(
              x,
              [&](const torch::Tensor& t) {
                return torch::conv2d(t, op.weight, op.bias, op.stride, op.padding);
              },
              [&](const torch::Tensor& t) {
                return torch::conv2d(t, op.weight.abs(), {}, op.stride, op.padding);
              });
        } else if constexpr (std::is_same_v<Op, AddOp>) {
          return {x.lower + inputs.at(1)->lower, x.upper + inputs.at(1)->upper};
        } else {
          // Monotone non-decreasing in every input: the ends of the box map to the ends.
          return {apply_operation(node, {x.lower}), apply_operation(node, {x.upper})};
        }
      },
      node.operation);
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

// A·y + bias over a node's output y as A'·x + bias' over its (first) input x. Σ over an AddOp's
// inputs is done by the caller: each input gets A itself.
LinearBound backward(const BoundNode& node, const LinearBound& bound, const Interval& input,
                     const std::vector<int64_t>& input_shape) {
  const torch::Tensor& a = bound.coefficients;
  const int64_t n = a.size(0), s = a.size(1);
  return std::visit(
      [&](const auto& op) -> LinearBound {
        using Op = std::decay_t<decltype(op)>;
        if constexpr (std::is_same_v<Op, AffineOp>) {
          // Per-sample constants broadcast over A's leading [N, S] too.
          torch::Tensor bias = bound.bias;
          if (op.shift.defined()) bias = bias + sum_trailing(a * op.shift);
          return {op.scale.defined() ? a * op.scale : a, bias};
        } else if constexpr (std::is_same_v<Op, LinearOp>) {
          torch::Tensor bias = bound.bias;
          if (op.bias.defined()) bias = bias + torch::matmul(a, op.bias);
          return {torch::matmul(a, op.weight), bias};
        } else if constexpr (std::is_same_v<Op, ConvOp>) {
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
        } else if constexpr (std::is_same_v<Op, ReluOp>) {
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
        } else if constexpr (std::is_same_v<Op, MaxPoolOp>) {
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
        } else if constexpr (std::is_same_v<Op, AveragePoolOp>) {
          // Each output is the mean of its k×k window: the adjoint spreads A/k² over the window
          // (a transposed convolution per channel).
          const auto out_shape = a.sizes().slice(2);
          const torch::Tensor flat =
              a.reshape({n * s * out_shape[0], 1, out_shape[1], out_shape[2]});
          const torch::Tensor window =
              torch::full({1, 1, op.kernel, op.kernel},
                          1.0 / static_cast<double>(op.kernel * op.kernel), a.options());
          const int64_t pad_h = input_shape[1] - ((out_shape[1] - 1) * op.stride + op.kernel);
          const int64_t pad_w = input_shape[2] - ((out_shape[2] - 1) * op.stride + op.kernel);
          const torch::Tensor back =
              torch::conv_transpose2d(flat, window, {}, op.stride, 0, {pad_h, pad_w});
          return {back.reshape({n, s, input_shape[0], input_shape[1], input_shape[2]}), bound.bias};
        } else if constexpr (std::is_same_v<Op, GlobalAveragePoolOp>) {
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
      node.operation);
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

bool can_bound(Classifier& model, const std::vector<int64_t>& input_shape, std::string& why) {
  return bound_graph_of(model, input_shape, why).has_value();
}

SpecificationBounds bound_specification(Classifier& model, const torch::Tensor& images,
                                        const torch::Tensor& specification,
                                        const ThreatModel& threat, BoundMethod method) {
  std::string why;
  const std::optional<BoundGraph> graph = bound_graph_of(model, images.sizes().slice(1).vec(), why);
  if (!graph) throw Error("certify", why);
  model.set_training(false);
  torch::NoGradGuard no_grad;
  // IBP forward: every value's box (value 0 the input, i + 1 node i's output).
  std::vector<Interval> boxes = {input_interval(images, threat)};
  for (const BoundNode& node : graph->nodes) {
    std::vector<const Interval*> inputs;
    for (size_t input : node.inputs) inputs.push_back(&boxes.at(input));
    boxes.push_back(propagate(node, inputs));
  }
  const Interval& logits = boxes.at(graph->output);
  SpecificationBounds result;
  const torch::Tensor positive = specification.clamp_min(0), negative = specification.clamp_max(0);
  result.lower =
      (positive * logits.lower.unsqueeze(1) + negative * logits.upper.unsqueeze(1)).sum(2);
  result.upper =
      (positive * logits.upper.unsqueeze(1) + negative * logits.lower.unsqueeze(1)).sum(2);
  result.forward_equivalents = 2;  // two boxes through the network
  if (method == BoundMethod::kIbp) return result;
  // CROWN from the output: the lower bound of C·z and of −C·z, i.e. 2S rows at once. Each value
  // collects the coefficients of every node that reads it (two for a residual connection's
  // input), in reverse order of the nodes, so a value is complete before it is passed on.
  const int64_t rows = 2 * specification.size(1);
  std::vector<torch::Tensor> coefficients(boxes.size());
  coefficients.at(graph->output) = torch::cat({specification, -specification}, 1);
  torch::Tensor bias = torch::zeros({images.size(0), rows}, images.options());
  for (size_t i = graph->nodes.size(); i-- > 0;) {
    const size_t value = i + 1;
    if (!coefficients[value].defined()) continue;
    const BoundNode& node = graph->nodes[i];
    const size_t first = node.inputs.at(0);
    const std::vector<int64_t> input_shape = boxes.at(first).lower.sizes().slice(1).vec();
    const LinearBound step = backward(node, {coefficients[value], torch::zeros_like(bias)},
                                      boxes.at(first), input_shape);
    coefficients[value] = torch::Tensor();  // passed on: its memory can go
    bias = bias + step.bias;
    for (size_t input : node.inputs) {
      torch::Tensor& into = coefficients.at(input);
      into = into.defined() ? into + step.coefficients : step.coefficients;
    }
  }
  const torch::Tensor both = concretize({coefficients.at(0), bias}, images, threat);
  const int64_t s = specification.size(1);
  result.lower = torch::maximum(result.lower, both.slice(1, 0, s));
  result.upper = torch::minimum(result.upper, -both.slice(1, s, 2 * s));
  // A backward pass per specification row, each about one backward pass of the model.
  result.forward_equivalents += 2.0 * static_cast<double>(2 * s);
  return result;
}

}  // namespace robustscope
