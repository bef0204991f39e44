// The model interface every attack, metric and landscape uses: images in [0,1] to logits.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "core/data/dataset.hpp"

namespace robustscope {

class Classifier {
 public:
  virtual ~Classifier() = default;

  // Logits [N, K] for images [N, C, H, W] with values in [0,1]. Any input normalisation is part of
  // the model, so callers never need to know about it.
  virtual torch::Tensor forward(const torch::Tensor& images) = 0;
  virtual void set_training(bool training) = 0;
  virtual void to(torch::Device device) = 0;
  virtual std::vector<torch::Tensor> parameters() = 0;
  // One line naming the model: architecture and origin.
  virtual std::string description() const = 0;

  torch::Tensor operator()(const torch::Tensor& images) { return forward(images); }
};

// Checks that `model` maps a batch of `shape` inputs to [batch, num_classes] logits; throws Error
// naming `where` otherwise. Puts the model in eval mode.
void check_output_shape(Classifier& model, const InputShape& shape, int64_t num_classes,
                        torch::Device device, const std::string& where);

// Fraction of `data` whose argmax logit equals the label (eval mode, no gradient).
double clean_accuracy(Classifier& model, const Dataset& data, int64_t batch_size,
                      torch::Device device);

}  // namespace robustscope
