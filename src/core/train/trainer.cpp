// The training loop shared by every recipe.
#include "core/train/trainer.hpp"

#include <torch/optim.h>
#include <torch/types.h>

#include <chrono>
#include <cmath>

#include "core/error.hpp"

namespace robustscope {

const EnumNames<Optimizer>& optimizer_names() {
  static const EnumNames<Optimizer> kNames({{Optimizer::kSgd, "sgd"}, {Optimizer::kAdam, "adam"}});
  return kNames;
}

const EnumNames<Schedule>& schedule_names() {
  static const EnumNames<Schedule> kNames({{Schedule::kConstant, "constant"},
                                           {Schedule::kStep, "step"},
                                           {Schedule::kCosine, "cosine"}});
  return kNames;
}

namespace {

const SettingTable<TrainConfig>& train_settings() {
  static const SettingTable<TrainConfig> kTable = [] {
    SettingTable<TrainConfig> table;
    table.integer("epochs", &TrainConfig::epochs, "epochs")
        .integer("batch_size", &TrainConfig::batch_size, "batch size")
        .choice("optimizer", &TrainConfig::optimizer, optimizer_names(), "optimizer")
        .number("learning_rate", &TrainConfig::learning_rate, "peak learning rate")
        .number("momentum", &TrainConfig::momentum, "SGD momentum")
        .number("weight_decay", &TrainConfig::weight_decay, "L2 weight decay")
        .choice("schedule", &TrainConfig::schedule, schedule_names(), "learning-rate schedule")
        .seed("seed", &TrainConfig::seed, "initialisation and shuffling seed");
    return table;
  }();
  return kTable;
}

}  // namespace

void TrainConfig::validate() const {
  if (epochs <= 0 || epochs > 100000)
    throw Error::for_key("epochs", "must be in 1..100000, got " + std::to_string(epochs));
  if (batch_size <= 0 || batch_size > (int64_t{1} << 24))
    throw Error::for_key("batch_size", "must be in 1..16777216, got " + std::to_string(batch_size));
  if (!(learning_rate > 0) || !std::isfinite(learning_rate))
    throw Error::for_key("learning_rate",
                         "must be positive and finite, got " + format_number(learning_rate));
  if (!(momentum >= 0 && momentum < 1)) throw Error::for_key("momentum", "must be in [0, 1)");
  if (!(weight_decay >= 0) || !std::isfinite(weight_decay))
    throw Error::for_key("weight_decay", "must be >= 0");
}

bool TrainConfig::is_key(const std::string& key) const {
  return train_settings().find(key) != nullptr;
}

void TrainConfig::set(const std::string& key, const std::string& value) {
  train_settings().set(*this, "training setting", key, value);
}

std::map<std::string, std::string> TrainConfig::to_entries() const {
  std::map<std::string, std::string> entries;
  for (const auto& entry : train_settings().entries())
    entries[entry.key] = setting_text(entry.value(*this));
  return entries;
}

double scheduled_learning_rate(const TrainConfig& config, int64_t step, int64_t total_steps) {
  const double progress =
      static_cast<double>(step) / static_cast<double>(std::max<int64_t>(total_steps, 1));
  if (config.schedule == Schedule::kCosine)
    return config.learning_rate * 0.5 * (1.0 + std::cos(M_PI * progress));
  if (config.schedule == Schedule::kStep) {
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
  if (config.optimizer == Optimizer::kAdam) {
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
    // Summed on the device, read once at the end of the epoch.
    const auto sum_options = torch::TensorOptions().dtype(torch::kFloat64).device(device);
    torch::Tensor loss_sum = torch::zeros({}, sum_options);
    torch::Tensor correct = torch::zeros({}, sum_options.dtype(torch::kInt64));
    torch::Tensor first_bad_batch = torch::full({}, -1, sum_options.dtype(torch::kInt64));
    double learning_rate = config.learning_rate;
    for (int64_t b = 0; b < batches.count(); ++b, ++step) {
      const Batch batch = batches[b];
      learning_rate = scheduled_learning_rate(config, step, total_steps);
      for (auto& group : optimizer->param_groups()) group.options().set_lr(learning_rate);
      optimizer->zero_grad();
      const BatchLoss result = objective(model, batch);
      const torch::Tensor loss = result.loss.detach();
      first_bad_batch = torch::where((first_bad_batch < 0) & loss.isfinite().logical_not(),
                                     torch::full_like(first_bad_batch, b), first_bad_batch);
      result.loss.backward();
      optimizer->step();
      loss_sum += loss.to(torch::kFloat64) * static_cast<double>(batch.labels.size(0));
      correct += result.logits.argmax(1).eq(batch.labels).sum();
    }
    const int64_t bad_batch = first_bad_batch.item<int64_t>();
    if (bad_batch >= 0) {
      throw Error("training", "the loss became NaN or infinite at epoch " + std::to_string(epoch) +
                                  ", batch " + std::to_string(bad_batch) +
                                  " (lower the learning rate)");
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double samples = static_cast<double>(data.size());
    on_epoch({epoch, config.epochs, loss_sum.item<double>() / samples,
              static_cast<double>(correct.item<int64_t>()) / samples, learning_rate, seconds,
              samples / seconds});
  }
  model.set_training(false);
}

}  // namespace robustscope
