// The training loop shared by every recipe.
#include "core/train/trainer.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>

#include "core/error.hpp"
#include "core/settings_text.hpp"

namespace robustscope {

void TrainConfig::validate() const {
  auto fail = [](const std::string& key, const std::string& what) { throw Error(key, what); };
  if (epochs <= 0) fail("epochs", "must be positive, got " + std::to_string(epochs));
  if (batch_size <= 0) fail("batch_size", "must be positive, got " + std::to_string(batch_size));
  if (optimizer != "sgd" && optimizer != "adam") {
    fail("optimizer", "\"" + optimizer + "\" is unknown (known: sgd, adam)");
  }
  if (!(learning_rate > 0) || !std::isfinite(learning_rate)) {
    fail("learning_rate", "must be positive and finite, got " + std::to_string(learning_rate));
  }
  if (!(momentum >= 0 && momentum < 1)) fail("momentum", "must be in [0, 1)");
  if (!(weight_decay >= 0) || !std::isfinite(weight_decay)) fail("weight_decay", "must be >= 0");
  if (schedule != "constant" && schedule != "step" && schedule != "cosine") {
    fail("schedule", "\"" + schedule + "\" is unknown (known: constant, step, cosine)");
  }
}

bool TrainConfig::is_key(const std::string& key) const { return to_entries().count(key) > 0; }

void TrainConfig::set(const std::string& key, const std::string& value) {
  if (key == "epochs")
    epochs = parse_integer(key, value);
  else if (key == "batch_size")
    batch_size = parse_integer(key, value);
  else if (key == "optimizer")
    optimizer = value;
  else if (key == "learning_rate")
    learning_rate = parse_number(key, value);
  else if (key == "momentum")
    momentum = parse_number(key, value);
  else if (key == "weight_decay")
    weight_decay = parse_number(key, value);
  else if (key == "schedule")
    schedule = value;
  else if (key == "seed")
    seed = static_cast<uint64_t>(parse_integer(key, value));
  else
    throw Error("training setting", "\"" + key + "\" is unknown");
}

std::map<std::string, std::string> TrainConfig::to_entries() const {
  return {{"epochs", std::to_string(epochs)},
          {"batch_size", std::to_string(batch_size)},
          {"optimizer", optimizer},
          {"learning_rate", c10::str(learning_rate)},
          {"momentum", c10::str(momentum)},
          {"weight_decay", c10::str(weight_decay)},
          {"schedule", schedule},
          {"seed", std::to_string(seed)}};
}

double scheduled_learning_rate(const TrainConfig& config, int64_t step, int64_t total_steps) {
  const double progress =
      static_cast<double>(step) / static_cast<double>(std::max<int64_t>(total_steps, 1));
  if (config.schedule == "cosine")
    return config.learning_rate * 0.5 * (1.0 + std::cos(M_PI * progress));
  if (config.schedule == "step") {
    return config.learning_rate * (progress < 0.5 ? 1.0 : progress < 0.75 ? 0.1 : 0.01);
  }
  return config.learning_rate;
}

TrainingObjective natural_objective() {
  return [](Classifier& model, const Batch& batch) {
    torch::Tensor logits = model.forward(batch.images);
    return BatchLoss{torch::cross_entropy_loss(logits, batch.labels), logits};
  };
}

namespace {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainConfig& config,
                                                        std::vector<torch::Tensor> parameters) {
  if (config.optimizer == "adam") {
    return std::make_unique<torch::optim::Adam>(
        parameters,
        torch::optim::AdamOptions(config.learning_rate).weight_decay(config.weight_decay));
  }
  return std::make_unique<torch::optim::SGD>(parameters,
                                             torch::optim::SGDOptions(config.learning_rate)
                                                 .momentum(config.momentum)
                                                 .weight_decay(config.weight_decay));
}

}  // namespace

void train_classifier(BuiltinClassifier& model, const Dataset& data, const TrainConfig& config,
                      const TrainingObjective& objective, torch::Device device,
                      const std::function<void(const EpochReport&)>& on_epoch) {
  config.validate();
  if (data.size() == 0) throw Error(data.source, "the training set is empty");
  model.to(device);
  auto optimizer = make_optimizer(config, model.parameters());
  const int64_t steps_per_epoch = (data.size() + config.batch_size - 1) / config.batch_size;
  const int64_t total_steps = steps_per_epoch * config.epochs;
  int64_t step = 0;
  for (int64_t epoch = 1; epoch <= config.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    model.set_training(true);
    const Batches batches(data, config.batch_size, device,
                          config.seed * 1000003ULL + static_cast<uint64_t>(epoch));
    double loss_sum = 0;
    int64_t correct = 0;
    double learning_rate = config.learning_rate;
    for (int64_t b = 0; b < batches.count(); ++b, ++step) {
      const Batch batch = batches[b];
      learning_rate = scheduled_learning_rate(config, step, total_steps);
      for (auto& group : optimizer->param_groups()) group.options().set_lr(learning_rate);
      optimizer->zero_grad();
      const BatchLoss result = objective(model, batch);
      const double loss = result.loss.item<double>();
      if (!std::isfinite(loss)) {
        throw Error("training", "loss became " + std::to_string(loss) + " at epoch " +
                                    std::to_string(epoch) + ", batch " + std::to_string(b) +
                                    " (lower the learning rate)");
      }
      result.loss.backward();
      optimizer->step();
      loss_sum += loss * static_cast<double>(batch.labels.size(0));
      correct += result.logits.argmax(1).eq(batch.labels).sum().item<int64_t>();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double samples = static_cast<double>(data.size());
    on_epoch({epoch, config.epochs, loss_sum / samples, static_cast<double>(correct) / samples,
              learning_rate, seconds, samples / seconds});
  }
  model.set_training(false);
}

}  // namespace robustscope
