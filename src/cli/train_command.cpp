// robustscope train: trains a built-in architecture by a recipe; checkpoint and test accuracy.
#include <cstdio>
#include <iostream>

#include "cli/command_options.hpp"
#include "core/data/dataset.hpp"
#include "core/error.hpp"
#include "core/models/checkpoint.hpp"
#include "core/runtime/device.hpp"
#include "core/train/training_job.hpp"

namespace robustscope::cli {

int train_command(const Arguments& arguments) {
  std::string dataset_name = "mnist", data_dir = "data", architecture = "small-cnn", output;
  std::vector<std::string> architecture_arguments, recipe_arguments;
  std::string recipe = "natural";
  int64_t train_limit = 0;
  TrainConfig config;
  RuntimeOptions runtime;
  po::options_description options("train options");
  options.add_options()("dataset", po::value(&dataset_name)->default_value(dataset_name),
                        "mnist | cifar10")(
      "data-dir", po::value(&data_dir)->default_value(data_dir), "folder holding <dataset>/")(
      "arch", po::value(&architecture)->default_value(architecture),
      "mlp | small-cnn | vgg | preact-resnet18 | wide-resnet")(
      "arch-arg", po::value(&architecture_arguments)->composing(),
      "architecture argument key=value (repeatable), e.g. channels=16")(
      "epochs", po::value(&config.epochs)->default_value(config.epochs), "epochs")(
      "batch-size", po::value(&config.batch_size)->default_value(config.batch_size), "batch size")(
      "optimizer", po::value(&config.optimizer)->default_value(config.optimizer), "sgd | adam")(
      "learning-rate", po::value(&config.learning_rate)->default_value(config.learning_rate),
      "peak learning rate")("momentum", po::value(&config.momentum)->default_value(config.momentum),
                            "SGD momentum")(
      "weight-decay", po::value(&config.weight_decay)->default_value(config.weight_decay),
      "L2 weight decay")("schedule", po::value(&config.schedule)->default_value(config.schedule),
                         "constant | step | cosine")(
      "seed", po::value(&config.seed)->default_value(config.seed),
      "initialisation and shuffling seed")("train-limit",
                                           po::value(&train_limit)->default_value(train_limit),
                                           "use only the first N training samples (0: all)")(
      "recipe", po::value(&recipe)->default_value(recipe),
      "natural | fgsm | pgd | trades | input-gradient | distillation | alp (docs/training.md)")(
      "recipe-arg", po::value(&recipe_arguments)->composing(),
      "recipe setting key=value (repeatable): epsilon, steps, step_size, beta, lambda, "
      "temperature, pairing")("output", po::value(&output)->required(), "checkpoint file to write");
  add_runtime_options(options, runtime);
  if (!parse_command("train", "Trains a built-in architecture by a recipe and writes a checkpoint.",
                     options, arguments)) {
    return 0;
  }
  // Everything that can be checked without data is checked before data is read.
  TrainingJob job;
  job.dataset = dataset_name;
  job.config = config;
  job.config.validate();
  job.recipe.name = recipe;
  for (const auto& [key, value] : parse_pairs(recipe_arguments, "--recipe-arg")) {
    if (key == "recipe") throw Error("--recipe-arg", "give the recipe with --recipe");
    job.recipe.set(key, value);
  }
  job.recipe.validate();
  job.train_limit = train_limit;
  job.architecture =
      ArchitectureConfig::for_dataset(architecture, dataset_info(dataset_name),
                                      parse_integer_pairs(architecture_arguments, "--arch-arg"));
  const torch::Device device = apply_runtime_options(runtime);
  run_training_job(job, data_dir, output, device, [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  });
  return 0;
}

}  // namespace robustscope::cli
