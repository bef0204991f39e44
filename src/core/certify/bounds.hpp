// Bound propagation: certified lower and upper bounds on linear functions of a network's logits
// (here the logit differences z_j − z_c) over every input of a threat model's ball ∩ [0,1]^d.
//
//   IBP    interval bound propagation (Gowal et al. 2018): boxes pushed forward layer by layer.
//   CROWN  linear relaxation propagated backward from the output (Zhang et al. 2018): each ReLU
//          with pre-activation bounds l < 0 < u is bounded above by u/(u − l)·(z − l) and below by
//          α·z (α = 1 when u > −l, else 0); each max-pooling window below by its input of largest
//          lower bound and above by that input when it dominates, else by the window's largest
//          upper bound. Pre-activation bounds of the hidden layers come from IBP (CROWN-IBP, Zhang
//          et al. 2020), and the result is intersected with IBP's, so CROWN is never looser.
//
// Any network bound_graph.hpp can read: the built-in architectures (the input normalisation,
// Linear, Conv2d, ReLU, MaxPool2d, AdaptiveAvgPool2d to 1x1, BatchNorm2d in eval mode, Flatten and
// the pre-activation residual blocks of preact-resnet18 and wide-resnet) and TorchScript modules
// made of the same operations (linear/addmm/matmul, conv2d, relu, pooling, batch_norm, views, the
// sum of two branches, affine maps by constants). A residual connection sums the coefficients of
// its two branches on the way back.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/attack/threat_model.hpp"
#include "core/models/classifier.hpp"
#include "core/settings.hpp"

namespace robustscope {

enum class BoundMethod { kIbp, kCrown };
const EnumNames<BoundMethod>& bound_method_names();  // ibp | crown

struct SpecificationBounds {
  torch::Tensor lower;  // [N, S]
  torch::Tensor upper;  // [N, S]
  double forward_equivalents =
      0;  // the cost, in forward passes of the whole batch through the model
};

// Lower and upper bounds of specification · logits(x') for every x' in the threat model's ball
// around `images` intersected with [0,1]^d (L∞; for L2 the ball alone, a superset). `specification`
// is [N, S, K]. Error naming the model and the layer when the model cannot be bounded.
SpecificationBounds bound_specification(Classifier& model, const torch::Tensor& images,
                                        const torch::Tensor& specification,
                                        const ThreatModel& threat, BoundMethod method);

// Whether bound_specification supports `model` on inputs of per-sample shape `input_shape`
// ([C,H,W]); `why` says what it cannot handle.
bool can_bound(Classifier& model, const std::vector<int64_t>& input_shape, std::string& why);

}  // namespace robustscope
