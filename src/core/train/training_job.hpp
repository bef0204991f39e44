// A whole training job — architecture, data set, loop settings and recipe — from key=value settings
// (the `train:` map of a spec, the train command's flags), and running it into a checkpoint.
#pragma once

#include <torch/types.h>

#include <functional>
#include <map>
#include <string>

#include "core/models/architectures.hpp"
#include "core/models/checkpoint.hpp"
#include "core/train/recipes.hpp"
#include "core/train/trainer.hpp"

namespace robustscope {

struct TrainingJob {
  ArchitectureConfig architecture;
  std::string dataset;
  TrainConfig config;
  RecipeConfig recipe;
  int64_t train_limit = 0;  // first N training samples (0: all)

  // Keys: arch; the loop's (epochs, batch_size, optimizer, learning_rate, momentum, weight_decay,
  // schedule, seed); the recipe's (recipe, epsilon, steps, step_size, beta, lambda, temperature,
  // pairing); train_limit; anything else is an integer argument of the architecture (channels,
  // hidden, …). Throws Error naming the key.
  static TrainingJob from_settings(const std::map<std::string, std::string>& settings,
                                   const std::string& dataset);
};

// Trains on the training split, measures test accuracy, writes the checkpoint (architecture,
// data set, recipe and loop settings, seed, accuracy, versions). `log` receives progress lines.
CheckpointMetadata run_training_job(const TrainingJob& job, const std::string& data_dir,
                                    const std::string& output, torch::Device device,
                                    const std::function<void(const std::string&)>& log);

}  // namespace robustscope
