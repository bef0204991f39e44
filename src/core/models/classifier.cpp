// Checks and clean accuracy shared by every Classifier.
#include "core/models/classifier.hpp"

#include <torch/types.h>
#include <torch/utils.h>

#include "core/error.hpp"

namespace robustscope {

void check_output_shape(Classifier& model, const InputShape& shape, int64_t num_classes,
                        torch::Device device, const std::string& where) {
  model.set_training(false);
  torch::NoGradGuard no_grad;
  const int64_t batch = 2;
  torch::Tensor logits;
  try {
    logits = model.forward(torch::full(shape.batch_sizes(batch), 0.5, torch::device(device)));
  } catch (const c10::Error& error) {
    throw Error(where, "the model fails on inputs of shape [N, " + shape.to_string() +
                           "]: " + error.what_without_backtrace());
  } catch (const std::runtime_error& error) {  // TorchScript interpreter errors
    const std::string message = error.what();
    throw Error(where, "the model fails on inputs of shape [N, " + shape.to_string() +
                           "]: " + message.substr(message.rfind('\n', message.size() - 2) + 1));
  }
  if (logits.dim() != 2 || logits.size(0) != batch || logits.size(1) != num_classes) {
    throw Error(where, "the model maps [" + std::to_string(batch) + ", " + shape.to_string() +
                           "] inputs to shape " + c10::str(logits.sizes()) + ", expected [" +
                           std::to_string(batch) + ", " + std::to_string(num_classes) + "]");
  }
}

double clean_accuracy(Classifier& model, const Dataset& data, int64_t batch_size,
                      torch::Device device) {
  model.set_training(false);
  torch::NoGradGuard no_grad;
  const Batches batches(data, batch_size, device);
  int64_t correct = 0;
  for (int64_t b = 0; b < batches.count(); ++b) {
    const Batch batch = batches[b];
    correct += model.forward(batch.images).argmax(1).eq(batch.labels).sum().item<int64_t>();
  }
  return data.size() == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(data.size());
}

}  // namespace robustscope
