// The training loop shared by every recipe: seeded shuffling, an optimizer, a per-iteration
// learning-rate schedule and progress reports. A recipe supplies only the loss of one batch.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "core/data/dataset.hpp"
#include "core/models/architectures.hpp"
#include "core/settings.hpp"

namespace robustscope {

enum class Optimizer { kSgd, kAdam };  // sgd (with momentum) | adam
const EnumNames<Optimizer>& optimizer_names();
enum class Schedule { kConstant, kStep, kCosine };  // step: x0.1 at 50% and 75% of the iterations
const EnumNames<Schedule>& schedule_names();

struct TrainConfig {
  int64_t epochs = 10;
  int64_t batch_size = 128;
  Optimizer optimizer = Optimizer::kSgd;
  double learning_rate = 0.05;
  double momentum = 0.9;  // sgd only
  double weight_decay = 5e-4;
  Schedule schedule = Schedule::kCosine;
  uint64_t seed = 0;

  // Throws Error naming the first invalid field.
  void validate() const;
  // Sets a field by its name (epochs, batch_size, optimizer, …); Error on a malformed value.
  void set(const std::string& key, const std::string& value);
  bool is_key(const std::string& key) const;
  // Recorded in the checkpoint as recipe.* entries.
  std::map<std::string, std::string> to_entries() const;
};

// The learning rate at iteration `step` of `total_steps`.
double scheduled_learning_rate(const TrainConfig& config, int64_t step, int64_t total_steps);

struct BatchLoss {
  torch::Tensor loss;    // scalar to minimise
  torch::Tensor logits;  // on the inputs trained on (adversarial for pgd), for the running accuracy
};

// A recipe's objective for one batch; the model is in training mode.
using TrainingObjective = std::function<BatchLoss(Classifier& model, const Batch& batch)>;

// Natural training: cross-entropy on the clean batch.
TrainingObjective natural_objective();

struct EpochReport {
  int64_t epoch = 0;  // 1-based
  int64_t epochs = 0;
  double loss = 0;
  double train_accuracy = 0;
  double learning_rate = 0;  // at the end of the epoch
  double seconds = 0;
  double samples_per_second = 0;
};

// Trains `model` on `data`. Deterministic on the CPU for a given seed and thread count: the shuffle
// of epoch e is drawn from (seed, e); weights are initialised by whoever built the model
// (seed_all() before construction). A NaN or infinite loss stops training with an Error naming the
// epoch and batch, found at the end of the epoch: losses and accuracies are summed on the device
// and read once per epoch, so a GPU never waits for the host within an epoch.
void train_classifier(BuiltinClassifier& model, const Dataset& data, const TrainConfig& config,
                      const TrainingObjective& objective, torch::Device device,
                      const std::function<void(const EpochReport&)>& on_epoch);

}  // namespace robustscope
