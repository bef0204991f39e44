// Bound graphs from built-in architectures and from TorchScript modules.
#include "core/certify/bound_graph.hpp"

#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/runtime/operator.h>
#include <torch/nn.h>
#include <torch/script.h>

#include <functional>
#include <map>
#include <numeric>
#include <set>

#include "core/error.hpp"
#include "core/models/architectures.hpp"
#include "core/models/torchscript_classifier.hpp"
#include "core/runtime/libtorch_compat.hpp"

namespace robustscope {
namespace nn = torch::nn;
namespace {

// The examples every graph is built on: two samples, so the batch size is told apart from a
// constant 1 in a traced graph's shape arithmetic.
constexpr int64_t kExampleBatch = 2;

// Builds a graph while running an example batch through it: each value keeps its example, which
// gives the node shapes and lets a TorchScript graph's size arithmetic be evaluated.
class GraphBuilder {
 public:
  GraphBuilder(const std::vector<int64_t>& input_shape, const torch::Tensor& example) {
    graph_.input_shape = input_shape;
    examples_.push_back(example);
  }

  // Adds a node and returns its value. A ReshapeOp needs `shape` (per sample); other operations
  // take theirs from the example.
  size_t add(BoundOperation operation, std::vector<size_t> inputs,
             std::vector<int64_t> shape = {}) {
    BoundNode node{std::move(operation), std::move(inputs), std::move(shape)};
    std::vector<torch::Tensor> arguments;
    for (size_t input : node.inputs) arguments.push_back(examples_.at(input));
    const torch::Tensor result = apply_operation(node, arguments);
    node.shape = result.sizes().slice(1).vec();
    graph_.nodes.push_back(std::move(node));
    examples_.push_back(result);
    return examples_.size() - 1;
  }
  const torch::Tensor& example(size_t value) const { return examples_.at(value); }
  std::vector<int64_t> shape(size_t value) const {
    return examples_.at(value).sizes().slice(1).vec();
  }
  BoundGraph finish(size_t output) {
    graph_.output = output;
    return std::move(graph_);
  }

 private:
  BoundGraph graph_;
  std::vector<torch::Tensor> examples_;  // value → its example (batch kExampleBatch)
};

std::optional<ConvOp> conv_op(const nn::Conv2dImpl& conv, std::string& why) {
  const auto& options = conv.options;
  const auto padding = compat::conv_padding(options);
  if (!padding || options.dilation()->at(0) != 1 || options.dilation()->at(1) != 1 ||
      options.groups() != 1) {
    why = "a Conv2d with dilation, groups or named padding";
    return std::nullopt;
  }
  return ConvOp{conv.weight,
                conv.bias,
                {options.stride()->at(0), options.stride()->at(1)},
                {(*padding)[0], (*padding)[1]}};
}

// BatchNorm in eval mode: x·scale + shift per channel, as [C,1,1] (or [C] on flat inputs).
AffineOp batch_norm_op(const torch::Tensor& weight, const torch::Tensor& bias,
                       const torch::Tensor& mean, const torch::Tensor& variance, double eps,
                       int64_t dims) {
  torch::Tensor scale = (variance + eps).rsqrt();
  if (weight.defined()) scale = scale * weight;
  torch::Tensor shift = -mean * scale;
  if (bias.defined()) shift = shift + bias;
  std::vector<int64_t> view(static_cast<size_t>(std::max<int64_t>(dims, 1)), 1);
  view[0] = -1;
  return {scale.reshape(view), shift.reshape(view)};
}

// ---------------------------------------------------------------- built-in architectures

class BuiltinWalker {
 public:
  BuiltinWalker(BuiltinClassifier& model, GraphBuilder& builder)
      : model_(model), builder_(builder) {}

  std::optional<size_t> walk(std::string& why) {
    const ImageClassifierImpl& network = *model_.network();
    const torch::Tensor stddev = network.stddev().reshape({-1, 1, 1});
    const torch::Tensor mean = network.mean().reshape({-1, 1, 1});
    size_t value = builder_.add(AffineOp{1 / stddev, -mean / stddev}, {0});
    int64_t position = 0;
    for (const auto& item : network.body()->named_children()) {
      ++position;
      std::string reason;
      const std::optional<size_t> next = layer(item.value(), value, reason);
      if (!next) {
        why = model_.description() + " has " + reason + " at layer " + std::to_string(position) +
              " of its body (bound propagation supports Linear, Conv2d, ReLU, MaxPool2d, "
              "AdaptiveAvgPool2d to 1x1, BatchNorm2d, Flatten and pre-activation residual "
              "blocks)";
        return std::nullopt;
      }
      value = *next;
    }
    return value;
  }

 private:
  std::optional<size_t> layer(const std::shared_ptr<nn::Module>& child, size_t value,
                              std::string& why) {
    if (auto linear = std::dynamic_pointer_cast<nn::LinearImpl>(child))
      return builder_.add(LinearOp{linear->weight, linear->bias}, {value});
    if (auto conv = std::dynamic_pointer_cast<nn::Conv2dImpl>(child)) {
      const std::optional<ConvOp> op = conv_op(*conv, why);
      if (!op) return std::nullopt;
      return builder_.add(*op, {value});
    }
    if (auto norm = std::dynamic_pointer_cast<nn::BatchNorm2dImpl>(child))
      return builder_.add(batch_norm(*norm), {value});
    if (std::dynamic_pointer_cast<nn::ReLUImpl>(child)) return builder_.add(ReluOp{}, {value});
    if (auto pool = std::dynamic_pointer_cast<nn::MaxPool2dImpl>(child)) {
      const auto& options = pool->options;
      if (options.kernel_size()->at(0) != options.kernel_size()->at(1) ||
          options.stride()->at(0) != options.kernel_size()->at(0) ||
          options.padding()->at(0) != 0 || options.dilation()->at(0) != 1) {
        why = "a MaxPool2d other than non-overlapping square windows";
        return std::nullopt;
      }
      return builder_.add(MaxPoolOp{options.kernel_size()->at(0), options.stride()->at(0)},
                          {value});
    }
    if (auto average = std::dynamic_pointer_cast<nn::AdaptiveAvgPool2dImpl>(child)) {
      const auto& size = average->options.output_size();
      if (size->at(0) != 1 || size->at(1) != 1) {
        why = "an AdaptiveAvgPool2d to other than 1x1";
        return std::nullopt;
      }
      return builder_.add(GlobalAveragePoolOp{}, {value});
    }
    if (std::dynamic_pointer_cast<nn::FlattenImpl>(child)) {
      const std::vector<int64_t> shape = builder_.shape(value);
      return builder_.add(
          ReshapeOp{}, {value},
          {std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<int64_t>())});
    }
    if (auto block = std::dynamic_pointer_cast<PreActBlockImpl>(child))
      return residual_block(*block, value, why);
    // The layer's own name without its C++ namespaces and holder suffix.
    std::string name = child->name();
    name = name.substr(name.rfind(':') == std::string::npos ? 0 : name.rfind(':') + 1);
    if (name.size() > 4 && name.compare(name.size() - 4, 4, "Impl") == 0)
      name.resize(name.size() - 4);
    why = "a " + name;
    return std::nullopt;
  }

  AffineOp batch_norm(const nn::BatchNorm2dImpl& norm) {
    return batch_norm_op(norm.weight, norm.bias, norm.running_mean, norm.running_var,
                         norm.options.eps(), 3);
  }

  // BN-ReLU, then conv-BN-ReLU-conv on one branch and the identity (or a 1x1 projection of the
  // pre-activated input) on the other, summed (PreActBlockImpl::forward).
  std::optional<size_t> residual_block(const PreActBlockImpl& block, size_t value,
                                       std::string& why) {
    const size_t activated =
        builder_.add(ReluOp{}, {builder_.add(batch_norm(*block.bn1()), {value})});
    size_t shortcut = value;
    if (block.shortcut()) {
      const std::optional<ConvOp> projection = conv_op(*block.shortcut(), why);
      if (!projection) return std::nullopt;
      shortcut = builder_.add(*projection, {activated});
    }
    const std::optional<ConvOp> first = conv_op(*block.conv1(), why);
    const std::optional<ConvOp> second = conv_op(*block.conv2(), why);
    if (!first || !second) return std::nullopt;
    size_t branch = builder_.add(*first, {activated});
    branch = builder_.add(ReluOp{}, {builder_.add(batch_norm(*block.bn2()), {branch})});
    branch = builder_.add(*second, {branch});
    return builder_.add(AddOp{}, {branch, shortcut});
  }

  BuiltinClassifier& model_;
  GraphBuilder& builder_;
};

// ---------------------------------------------------------------- TorchScript

namespace jit = torch::jit;

const char* const kSupportedAtenOperations =
    "linear, addmm, matmul with constant weights, conv2d/_convolution, relu, max_pool2d, "
    "avg_pool2d, adaptive_avg_pool2d to 1x1, mean over H and W, batch_norm in eval mode, "
    "flatten/view/reshape, dropout in eval mode, add of two branches, and add, sub, mul, div, neg "
    "with constants";

// Walks a frozen graph: every value is either tracked (a function of the input: a graph value) or
// known (a constant, or an int computed from the example's shapes).
class TorchScriptWalker {
 public:
  TorchScriptWalker(const jit::Graph& graph, GraphBuilder& builder)
      : graph_(graph), builder_(builder) {}

  std::optional<size_t> walk(std::string& why) {
    if (graph_.inputs().size() != 2) {
      why = "forward takes " + std::to_string(graph_.inputs().size() - 1) +
            " inputs; bound propagation needs one (the images)";
      return std::nullopt;
    }
    tracked_[graph_.inputs()[1]] = 0;
    for (const jit::Node* node : graph_.nodes()) {
      if (!visit(node, why)) return std::nullopt;
    }
    const jit::Value* output = graph_.outputs()[0];
    const auto found = tracked_.find(output);
    if (found == tracked_.end()) {
      why = "its output %" + output->debugName() + " is not a tensor computed from the input";
      return std::nullopt;
    }
    return found->second;
  }

 private:
  bool visit(const jit::Node* node, std::string& why) {
    const std::string kind = node->kind().toQualString();
    if (node->kind() == c10::prim::Constant) {
      const c10::optional<c10::IValue> value = jit::toIValue(node->output());
      if (value) known_[node->output()] = *value;
      return true;
    }
    bool any_tracked = false, all_known = node->blocks().empty();
    for (const jit::Value* input : node->inputs()) {
      any_tracked = any_tracked || tracked_.count(input);
      all_known = all_known && known_.count(input);
    }
    if (all_known) return evaluate(node, why);
    if (kind == "aten::size" && tracked_.count(node->input(0))) return size_of(node);
    if (any_tracked) {
      std::string reason;
      if (operation(node, kind, reason)) return true;
      why = "bound propagation does not support " + kind + " at %" + node->output(0)->debugName() +
            (reason.empty() ? "" : " (" + reason + ")") +
            "; supported: " + kSupportedAtenOperations;
      return false;
    }
    // Neither known nor computed from the input (e.g. unused attributes): ignored unless used.
    return true;
  }

  // A node of constants: run it (shape arithmetic, a weight's transpose, a tensor from a number).
  bool evaluate(const jit::Node* node, std::string& why) {
    if (node->kind() == c10::prim::ListConstruct) return list_of(node);
    try {
      jit::Stack stack;
      for (const jit::Value* input : node->inputs()) stack.push_back(known_.at(input));
      node->getOperation()(stack);
      if (stack.size() != node->outputs().size()) return true;
      for (size_t i = 0; i < stack.size(); ++i) known_[node->output(i)] = stack[i];
      return true;
    } catch (const std::exception& error) {
      why = node->kind().toQualString() + std::string(" at %") + node->output(0)->debugName() +
            " cannot be evaluated on constants: " + error.what();
      why = why.substr(0, why.find('\n'));
      return false;
    }
  }

  // A list of constants (the interpreter builds lists itself: they have no operator to run).
  bool list_of(const jit::Node* node) {
    std::vector<int64_t> ints;
    std::vector<double> numbers;
    c10::List<torch::Tensor> tensors;
    for (const jit::Value* input : node->inputs()) {
      const c10::IValue& value = known_.at(input);
      if (value.isInt()) ints.push_back(value.toInt());
      if (value.isDouble()) numbers.push_back(value.toDouble());
      if (value.isTensor()) tensors.push_back(value.toTensor());
    }
    const size_t count = node->inputs().size();
    if (ints.size() == count)
      known_[node->output()] = c10::IValue(ints);
    else if (numbers.size() == count)
      known_[node->output()] = c10::IValue(numbers);
    else if (tensors.size() == count)
      known_[node->output()] = c10::IValue(tensors);
    return true;  // a list of other things stays unknown: refused where it is used
  }

  // aten::size of a tracked value: the example's, with kExampleBatch as the batch.
  bool size_of(const jit::Node* node) {
    const std::vector<int64_t> sizes = builder_.example(tracked_.at(node->input(0))).sizes().vec();
    if (node->inputs().size() == 1) {
      known_[node->output()] = c10::IValue(sizes);
    } else {
      int64_t dim = known_.at(node->input(1)).toInt();
      if (dim < 0) dim += static_cast<int64_t>(sizes.size());
      known_[node->output()] = c10::IValue(sizes.at(static_cast<size_t>(dim)));
    }
    return true;
  }

  const c10::IValue* constant(const jit::Value* value) const {
    const auto found = known_.find(value);
    return found == known_.end() ? nullptr : &found->second;
  }
  torch::Tensor constant_tensor(const jit::Value* value) const {
    const c10::IValue* known = constant(value);
    if (!known || known->isNone()) return {};
    if (known->isTensor()) return known->toTensor();
    if (known->isDouble()) return torch::tensor(known->toDouble());
    if (known->isInt()) return torch::tensor(static_cast<double>(known->toInt()));
    return {};
  }
  double constant_number(const jit::Value* value, double fallback) const {
    const c10::IValue* known = constant(value);
    if (!known || known->isNone()) return fallback;
    return known->isInt() ? static_cast<double>(known->toInt()) : known->toDouble();
  }
  std::vector<int64_t> constant_ints(const jit::Value* value) const {
    const c10::IValue* known = constant(value);
    if (!known || known->isNone()) return {};
    if (known->isInt()) return {known->toInt()};
    return known->toIntVector();
  }

  // A constant operand as a per-sample tensor: a leading batch dimension of 1 (a [1,C,1,1] mean)
  // is dropped; one that broadcasts over the batch is kept as it is.
  std::optional<torch::Tensor> per_sample(const torch::Tensor& constant, size_t value) const {
    const int64_t dims = static_cast<int64_t>(builder_.shape(value).size());
    torch::Tensor result = constant.to(torch::kFloat32);
    if (result.dim() == dims + 1) {
      if (result.size(0) != 1) return std::nullopt;
      result = result.squeeze(0);
    }
    if (result.dim() > dims) return std::nullopt;
    return result;
  }

  size_t track(const jit::Node* node, size_t value) {
    tracked_[node->output(0)] = value;
    return value;
  }
  bool affine(const jit::Node* node, size_t value, torch::Tensor scale, torch::Tensor shift,
              std::string& why) {
    std::optional<torch::Tensor> scale_per_sample, shift_per_sample;
    if (scale.defined() && !(scale_per_sample = per_sample(scale, value))) {
      why = "a constant with a batch dimension";
      return false;
    }
    if (shift.defined() && !(shift_per_sample = per_sample(shift, value))) {
      why = "a constant with a batch dimension";
      return false;
    }
    track(node, builder_.add(AffineOp{scale_per_sample.value_or(torch::Tensor()),
                                      shift_per_sample.value_or(torch::Tensor())},
                             {value}));
    return true;
  }

  bool operation(const jit::Node* node, const std::string& kind, std::string& why) {
    const auto input = [&](size_t i) { return node->input(i); };
    const auto tracked_input = [&](size_t i) -> std::optional<size_t> {
      const auto found = tracked_.find(input(i));
      if (found == tracked_.end()) return std::nullopt;
      return found->second;
    };
    const std::optional<size_t> x = tracked_input(0);
    if (kind == "aten::contiguous" || kind == "aten::detach" || kind == "aten::clone" ||
        ((kind == "aten::dropout" || kind == "aten::feature_dropout") && constant(input(2)) &&
         !constant(input(2))->toBool())) {
      if (!x) return false;
      track(node, *x);
      return true;
    }
    if (kind == "aten::relu" || kind == "aten::relu_") {
      if (!x) return false;
      track(node, builder_.add(ReluOp{}, {*x}));
      return true;
    }
    if (kind == "aten::linear") {
      const torch::Tensor weight = constant_tensor(input(1));
      if (!x || !weight.defined()) return (why = "a weight computed from the input", false);
      track(node, builder_.add(LinearOp{weight, constant_tensor(input(2))}, {*x}));
      return true;
    }
    if (kind == "aten::matmul" || kind == "aten::mm") {
      const torch::Tensor weight = constant_tensor(input(1));
      if (!x || !weight.defined() || weight.dim() != 2 || builder_.shape(*x).size() != 1)
        return (why = "only flat inputs times a constant matrix", false);
      track(node, builder_.add(LinearOp{weight.t(), {}}, {*x}));
      return true;
    }
    if (kind == "aten::addmm") {  // beta·bias + alpha·(x·W)
      const std::optional<size_t> flat = tracked_input(1);
      const torch::Tensor bias = constant_tensor(input(0)), weight = constant_tensor(input(2));
      if (!flat || !bias.defined() || !weight.defined())
        return (why = "only bias + input·constant matrix", false);
      const double beta = constant_number(input(3), 1), alpha = constant_number(input(4), 1);
      track(node, builder_.add(LinearOp{alpha * weight.t(), beta * bias}, {*flat}));
      return true;
    }
    if (kind == "aten::conv2d" || kind == "aten::_convolution") return convolution(node, kind, why);
    if (kind == "aten::max_pool2d" || kind == "aten::avg_pool2d") return pooling(node, kind, why);
    if (kind == "aten::adaptive_avg_pool2d") {
      const std::vector<int64_t> size = constant_ints(input(1));
      if (!x || size.size() != 2 || size[0] != 1 || size[1] != 1)
        return (why = "only to 1x1", false);
      track(node, builder_.add(GlobalAveragePoolOp{}, {*x}));
      return true;
    }
    if (kind == "aten::mean") return mean(node, why);
    if (kind == "aten::flatten" || kind == "aten::view" || kind == "aten::reshape")
      return reshape(node, kind, why);
    if (kind == "aten::batch_norm") {
      const c10::IValue* training = constant(input(5));
      if (!x || !training || training->toBool()) return (why = "only in eval mode", false);
      const AffineOp op = batch_norm_op(constant_tensor(input(1)), constant_tensor(input(2)),
                                        constant_tensor(input(3)), constant_tensor(input(4)),
                                        constant_number(input(7), 1e-5),
                                        static_cast<int64_t>(builder_.shape(*x).size()));
      return affine(node, *x, op.scale, op.shift, why);
    }
    if (kind == "aten::add" || kind == "aten::add_" || kind == "aten::sub" || kind == "aten::sub_")
      return add_or_sub(node, kind, why);
    if (kind == "aten::mul" || kind == "aten::mul_" || kind == "aten::div" ||
        kind == "aten::div_") {
      if (node->inputs().size() > 2) return (why = "with a rounding mode", false);
      const std::optional<size_t> y = tracked_input(1);
      if (x && y) return (why = "of two tensors computed from the input", false);
      const size_t value = x ? *x : *y;
      const torch::Tensor factor = constant_tensor(input(x ? 1 : 0));
      if (!factor.defined()) return false;
      const bool divide = kind.rfind("aten::div", 0) == 0;
      if (divide && !x) return (why = "a constant divided by the input", false);
      return affine(node, value, divide ? 1 / factor : factor, {}, why);
    }
    if (kind == "aten::neg") {
      if (!x) return false;
      return affine(node, *x, torch::tensor(-1.0), {}, why);
    }
    return false;
  }

  bool convolution(const jit::Node* node, const std::string& kind, std::string& why) {
    const auto x = tracked_.find(node->input(0));
    const torch::Tensor weight = constant_tensor(node->input(1));
    if (x == tracked_.end() || !weight.defined() || weight.dim() != 4)
      return (why = "only 2-D convolutions with constant weights", false);
    const std::vector<int64_t> stride = constant_ints(node->input(3));
    const c10::IValue* padding_value = constant(node->input(4));
    if (!padding_value || !padding_value->isIntList())
      return (why = "padding must be numbers, not a name", false);
    const std::vector<int64_t> padding = padding_value->toIntVector();
    const std::vector<int64_t> dilation = constant_ints(node->input(5));
    int64_t groups = 1;
    if (kind == "aten::conv2d") {
      groups = constant(node->input(6))->toInt();
    } else {
      if (constant(node->input(6))->toBool()) return (why = "transposed", false);
      groups = constant(node->input(8))->toInt();
    }
    const auto pair = [](std::vector<int64_t> values) {
      if (values.size() == 1) values.push_back(values[0]);
      return values;
    };
    for (int64_t d : dilation)
      if (d != 1) return (why = "with dilation", false);
    if (groups != 1) return (why = "with groups", false);
    track(node,
          builder_.add(ConvOp{weight, constant_tensor(node->input(2)), pair(stride), pair(padding)},
                       {x->second}));
    return true;
  }

  bool pooling(const jit::Node* node, const std::string& kind, std::string& why) {
    const auto x = tracked_.find(node->input(0));
    std::vector<int64_t> kernel = constant_ints(node->input(1));
    std::vector<int64_t> stride = constant_ints(node->input(2));
    const std::vector<int64_t> padding = constant_ints(node->input(3));
    if (stride.empty()) stride = kernel;
    if (kernel.size() == 1) kernel.push_back(kernel[0]);
    if (stride.size() == 1) stride.push_back(stride[0]);
    const bool padded = std::any_of(padding.begin(), padding.end(), [](int64_t p) { return p; });
    if (x == tracked_.end() || kernel.size() != 2 || kernel[0] != kernel[1] ||
        stride[0] != stride[1] || padded)
      return (why = "only square windows without padding", false);
    if (kind == "aten::max_pool2d") {
      const std::vector<int64_t> dilation = constant_ints(node->input(4));
      if (stride[0] != kernel[0] ||
          std::any_of(dilation.begin(), dilation.end(), [](int64_t d) { return d != 1; }))
        return (why = "only non-overlapping windows", false);
      track(node, builder_.add(MaxPoolOp{kernel[0], stride[0]}, {x->second}));
      return true;
    }
    if (node->inputs().size() > 6 && !constant(node->input(6))->isNone())
      return (why = "with a divisor override", false);
    track(node, builder_.add(AveragePoolOp{kernel[0], stride[0]}, {x->second}));
    return true;
  }

  bool mean(const jit::Node* node, std::string& why) {
    const auto x = tracked_.find(node->input(0));
    const std::vector<int64_t> dims =
        node->inputs().size() > 1 ? constant_ints(node->input(1)) : std::vector<int64_t>{};
    if (x == tracked_.end() || builder_.shape(x->second).size() != 3) return false;
    std::set<int64_t> axes;
    for (int64_t d : dims) axes.insert(d < 0 ? d + 4 : d);
    if (axes != std::set<int64_t>{2, 3}) return (why = "only over H and W", false);
    const size_t pooled = builder_.add(GlobalAveragePoolOp{}, {x->second});
    const bool keep = node->inputs().size() > 2 && constant(node->input(2))->toBool();
    track(node,
          keep ? pooled : builder_.add(ReshapeOp{}, {pooled}, {builder_.shape(pooled).at(0)}));
    return true;
  }

  // flatten, view, reshape: the shape the example takes there, checked against the batch.
  bool reshape(const jit::Node* node, const std::string& kind, std::string& why) {
    const auto x = tracked_.find(node->input(0));
    if (x == tracked_.end()) return false;
    const torch::Tensor example = builder_.example(x->second);
    torch::Tensor result;
    try {
      if (kind == "aten::flatten")
        result =
            example.flatten(constant(node->input(1))->toInt(), constant(node->input(2))->toInt());
      else
        result = example.reshape(constant_ints(node->input(1)));
    } catch (const c10::Error&) {
      return (why = "a shape that does not fit the input", false);
    }
    if (result.dim() < 1 || result.size(0) != kExampleBatch)
      return (why = "a shape that does not keep the batch dimension first", false);
    track(node, builder_.add(ReshapeOp{}, {x->second}, result.sizes().slice(1).vec()));
    return true;
  }

  bool add_or_sub(const jit::Node* node, const std::string& kind, std::string& why) {
    const bool subtract = kind.rfind("aten::sub", 0) == 0;
    const double alpha = node->inputs().size() > 2 ? constant_number(node->input(2), 1) : 1;
    const auto x = tracked_.find(node->input(0)), y = tracked_.find(node->input(1));
    const double sign = subtract ? -alpha : alpha;
    if (x != tracked_.end() && y != tracked_.end()) {  // x ± alpha·y: two branches
      size_t other = y->second;
      if (sign != 1) other = builder_.add(AffineOp{torch::tensor(sign), {}}, {other});
      track(node, builder_.add(AddOp{}, {x->second, other}));
      return true;
    }
    if (x != tracked_.end()) {  // x ± alpha·c
      const torch::Tensor c = constant_tensor(node->input(1));
      if (!c.defined()) return false;
      return affine(node, x->second, {}, sign * c, why);
    }
    const torch::Tensor c = constant_tensor(node->input(0));  // c ± alpha·y
    if (!c.defined() || y == tracked_.end()) return false;
    return affine(node, y->second, torch::tensor(sign), c, why);
  }

  const jit::Graph& graph_;
  GraphBuilder& builder_;
  std::map<const jit::Value*, size_t> tracked_;
  std::map<const jit::Value*, c10::IValue> known_;
};

}  // namespace

torch::Tensor apply_operation(const BoundNode& node, const std::vector<torch::Tensor>& inputs) {
  const torch::Tensor& x = inputs.at(0);
  return std::visit(
      [&](const auto& op) -> torch::Tensor {
        using Op = std::decay_t<decltype(op)>;
        if constexpr (std::is_same_v<Op, AffineOp>) {
          torch::Tensor result = op.scale.defined() ? x * op.scale : x;
          return op.shift.defined() ? result + op.shift : result;
        } else if constexpr (std::is_same_v<Op, LinearOp>) {
          return torch::nn::functional::linear(x, op.weight, op.bias);
        } else if constexpr (std::is_same_v<Op, ConvOp>) {
          return torch::conv2d(x, op.weight, op.bias, op.stride, op.padding);
        } else if constexpr (std::is_same_v<Op, ReluOp>) {
          return torch::relu(x);
        } else if constexpr (std::is_same_v<Op, MaxPoolOp>) {
          return torch::max_pool2d(x, op.kernel, op.stride);
        } else if constexpr (std::is_same_v<Op, AveragePoolOp>) {
          return torch::avg_pool2d(x, op.kernel, op.stride);
        } else if constexpr (std::is_same_v<Op, GlobalAveragePoolOp>) {
          return x.mean({2, 3}, true);
        } else if constexpr (std::is_same_v<Op, ReshapeOp>) {
          std::vector<int64_t> shape = {x.size(0)};
          shape.insert(shape.end(), node.shape.begin(), node.shape.end());
          return x.reshape(shape);
        } else {
          return x + inputs.at(1);
        }
      },
      node.operation);
}

std::optional<BoundGraph> bound_graph_of(Classifier& model, const std::vector<int64_t>& input_shape,
                                         std::string& why) {
  model.set_training(false);
  torch::NoGradGuard no_grad;
  // A fixed example: the graph is checked against the model's own forward pass on it.
  std::vector<int64_t> batch_shape = {kExampleBatch};
  batch_shape.insert(batch_shape.end(), input_shape.begin(), input_shape.end());
  const torch::Tensor example =
      torch::rand(batch_shape, at::detail::createCPUGenerator(7))
          .to(model.parameters().empty() ? torch::kCPU : model.parameters()[0].device());
  GraphBuilder builder(input_shape, example);
  std::optional<size_t> output;
  try {
    if (auto* builtin = dynamic_cast<BuiltinClassifier*>(&model)) {
      output = BuiltinWalker(*builtin, builder).walk(why);
    } else if (auto* scripted = dynamic_cast<TorchScriptClassifier*>(&model)) {
      // Freezing inlines every submodule and turns parameters and buffers into constants; the
      // model's own numerics are kept (no folding of batch norms into convolutions).
      const jit::Module frozen = jit::freeze(scripted->module(), c10::nullopt, false);
      const std::shared_ptr<jit::Graph> graph = frozen.get_method("forward").graph();
      output = TorchScriptWalker(*graph, builder).walk(why);
      if (!output) why = model.description() + ": " + why;
    } else {
      why = model.description() + ": bound propagation knows neither its layers nor its graph";
    }
  } catch (const c10::Error& error) {
    why = model.description() + ": its graph cannot be read for bound propagation (" +
          error.what_without_backtrace() + ")";
    output.reset();
  }
  if (!output) return std::nullopt;
  // The graph as read must compute what the model computes.
  const torch::Tensor expected = model.forward(example);
  const torch::Tensor read = builder.example(*output);
  if (!read.sizes().equals(expected.sizes()) ||
      !torch::allclose(read, expected, 1e-4, 1e-4 * (1 + expected.abs().max().item<double>()))) {
    why = model.description() +
          ": its graph, as bound propagation reads it, does not reproduce the model's output "
          "(an operation with effects the reading does not know)";
    return std::nullopt;
  }
  return builder.finish(*output);
}

}  // namespace robustscope
