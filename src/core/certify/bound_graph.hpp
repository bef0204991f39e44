// A network as bound propagation sees it: a graph of a few affine and piecewise-linear operations
// on per-sample tensors, built from a built-in architecture (its layers, residual blocks included)
// or from a TorchScript module's frozen graph (torch::jit, after freezing and inlining). What
// cannot be expressed is refused with the operation's name and where it sits, never a C++ type
// name.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/models/classifier.hpp"

namespace robustscope {

// x·scale + shift, elementwise; scale and shift broadcast over the per-sample shape (e.g. [C,1,1]
// per channel: the input normalisation, BatchNorm in eval mode, a constant scaling). An undefined
// scale is 1, an undefined shift 0.
struct AffineOp {
  torch::Tensor scale, shift;
};
struct LinearOp {
  torch::Tensor weight, bias;  // [out, in], [out] (bias may be undefined)
};
struct ConvOp {
  torch::Tensor weight, bias;  // bias may be undefined
  std::vector<int64_t> stride, padding;
};
struct ReluOp {};
struct MaxPoolOp {  // non-overlapping square windows
  int64_t kernel, stride;
};
struct AveragePoolOp {  // square windows, no padding
  int64_t kernel, stride;
};
struct GlobalAveragePoolOp {};  // [C,H,W] → [C,1,1]
struct ReshapeOp {};            // to the node's shape (a view: flatten, view, reshape)
struct AddOp {};                // the sum of the node's two inputs (a residual connection)
using BoundOperation = std::variant<AffineOp, LinearOp, ConvOp, ReluOp, MaxPoolOp, AveragePoolOp,
                                    GlobalAveragePoolOp, ReshapeOp, AddOp>;

struct BoundNode {
  BoundOperation operation;
  std::vector<size_t> inputs;  // values: 0 is the network's input, i + 1 the output of node i
  std::vector<int64_t> shape;  // per-sample shape of its output
};

// Nodes in an order where each comes after its inputs.
struct BoundGraph {
  std::vector<int64_t> input_shape;  // per sample, [C,H,W]
  std::vector<BoundNode> nodes;
  size_t output = 0;  // the value holding the logits
};

// The node's operation applied to concrete inputs (a batch of them): the network's own forward
// pass, as the graph reads it.
torch::Tensor apply_operation(const BoundNode& node, const std::vector<torch::Tensor>& inputs);

// The graph of `model` on inputs of per-sample shape `input_shape`, or nullopt with `why` saying
// what it cannot express ("aten::sigmoid at %23 …", "a Conv2d with dilation at layer 4 …").
std::optional<BoundGraph> bound_graph_of(Classifier& model, const std::vector<int64_t>& input_shape,
                                         std::string& why);

}  // namespace robustscope
