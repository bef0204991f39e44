// robustscope train: trains a built-in architecture by a recipe; checkpoint and test accuracy.
#include <cstdio>
#include <iostream>

#include "cli/command_options.hpp"
#include "core/data/dataset.hpp"
#include "core/error.hpp"
#include "core/models/checkpoint.hpp"
#include "core/runtime/device.hpp"
#include "core/runtime/files.hpp"
#include "core/train/training_job.hpp"

namespace robustscope::cli {

int train_command(const Arguments& arguments) {
  std::string dataset_name = "mnist", data_dir = default_data_dir(), architecture = "small-cnn",
              output, optimizer = "sgd", schedule = "cosine", recipe = "natural", seed = "0";
  std::vector<std::string> architecture_arguments, recipe_arguments;
  int64_t train_limit = 0;
  bool force = false;
  TrainConfig config;
  RuntimeOptions runtime;
  po::options_description options("train options");
  options.add_options()("dataset", value_with_default(&dataset_name), "mnist | fmnist | cifar10")(
      "data-dir", value_with_default(&data_dir),
      "folder holding <dataset>/ (default: $ROBUSTSCOPE_DATA_DIR or data)")(
      "arch", value_with_default(&architecture),
      ("architecture: " + join(known_architectures(), " | ")).c_str())(
      "arch-arg", po::value(&architecture_arguments)->composing(),
      "architecture argument key=value (repeatable), e.g. channels=16")(
      "epochs", value_with_default(&config.epochs), "epochs")(
      "batch-size", value_with_default(&config.batch_size), "batch size")(
      "optimizer", value_with_default(&optimizer), "sgd | adam")(
      "learning-rate", value_with_default(&config.learning_rate), "peak learning rate")(
      "momentum", value_with_default(&config.momentum), "SGD momentum")(
      "weight-decay", value_with_default(&config.weight_decay), "L2 weight decay")(
      "schedule", value_with_default(&schedule), "constant | step | cosine")(
      "seed", value_with_default(&seed), "initialisation and shuffling seed (0 .. 2^63 - 1)")(
      "train-limit", value_with_default(&train_limit),
      "use only the first N training samples (0: all)")(
      "recipe", value_with_default(&recipe),
      ("training recipe: " + recipe_names().known() + " (docs/training.md)").c_str())(
      "recipe-arg", po::value(&recipe_arguments)->composing(),
      "recipe setting key=value (repeatable): epsilon, steps, step_size, beta, lambda, "
      "temperature, pairing")("output", po::value(&output)->required(), "checkpoint file to write")(
      "force", po::bool_switch(&force), "overwrite an existing --output");
  add_runtime_options(options, runtime);
  if (!parse_command("train", "Trains a built-in architecture by a recipe and writes a checkpoint.",
                     options, arguments)) {
    return 0;
  }
  // Everything that can be checked without data is checked before data is read.
  check_output_path(output, force, "--output");
  TrainingJob job;
  job.dataset = dataset_name;
  job.config = config;
  job.config.seed = parse_seed("--seed", seed);
  job.config.optimizer = optimizer_names().parse("--optimizer", optimizer);
  job.config.schedule = schedule_names().parse("--schedule", schedule);
  job.config.validate();
  job.recipe.name = recipe_names().parse("--recipe", recipe);
  for (const auto& [key, value] : parse_pairs(recipe_arguments, "--recipe-arg")) {
    if (key == "recipe") throw Error("--recipe-arg", "give the recipe with --recipe");
    job.recipe.set(key, value);
  }
  job.recipe.validate();
  if (train_limit < 0) throw Error("--train-limit", "must be >= 0");
  job.train_limit = train_limit;
  job.architecture =
      ArchitectureConfig::for_dataset(architecture, dataset_info(dataset_name),
                                      parse_integer_pairs(architecture_arguments, "--arch-arg"));
  const torch::Device device = apply_runtime_options(runtime);
  run_training_job(job, data_dir, output, device, [](const std::string& line) { say(line); });
  return 0;
}

}  // namespace robustscope::cli
