// robustscope train: natural training of a built-in architecture, checkpoint and test accuracy.
#include <cstdio>
#include <iostream>

#include "cli/command_options.hpp"
#include "core/data/dataset.hpp"
#include "core/models/checkpoint.hpp"
#include "core/runtime/device.hpp"
#include "core/train/trainer.hpp"

namespace robustscope::cli {

int train_command(const Arguments& arguments) {
  std::string dataset_name = "mnist", data_dir = "data", architecture = "small-cnn", output;
  std::vector<std::string> architecture_arguments;
  int64_t train_limit = 0, eval_batch_size = 500;
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
      "eval-batch-size", po::value(&eval_batch_size)->default_value(eval_batch_size),
      "batch size of the test-set evaluation")("output", po::value(&output)->required(),
                                               "checkpoint file to write");
  add_runtime_options(options, runtime);
  if (!parse_command("train", "Trains a built-in architecture naturally and writes a checkpoint.",
                     options, arguments)) {
    return 0;
  }
  config.validate();
  // Everything that can be checked without data is checked before data is read.
  const ArchitectureConfig architecture_config =
      ArchitectureConfig::for_dataset(architecture, dataset_info(dataset_name),
                                      parse_integer_pairs(architecture_arguments, "--arch-arg"));
  const torch::Device device = apply_runtime_options(runtime);

  Dataset train = load_dataset(dataset_name, data_dir, "train");
  if (train_limit > 0) train = train.slice(0, train_limit);
  const Dataset test = load_dataset(dataset_name, data_dir, "test");
  std::cout << "train " << train.size() << " samples, test " << test.size() << " samples ("
            << dataset_name << ")\n";

  seed_all(config.seed);
  BuiltinClassifier model(architecture_config);
  std::cout << "model " << model.description() << ", " << model.parameter_count()
            << " parameters\n";

  train_classifier(model, train, config, natural_objective(), device, [](const EpochReport& r) {
    std::printf("epoch %3ld/%ld  loss %.4f  train acc %.4f  lr %.5f  %.1f s  %.0f samples/s\n",
                r.epoch, r.epochs, r.loss, r.train_accuracy, r.learning_rate, r.seconds,
                r.samples_per_second);
    std::fflush(stdout);
  });

  CheckpointMetadata metadata;
  metadata.dataset = dataset_name;
  metadata.recipe = config.to_entries();
  metadata.recipe["name"] = "natural";
  metadata.recipe["train_samples"] = std::to_string(train.size());
  metadata.seed = config.seed;
  metadata.test_accuracy = clean_accuracy(model, test, eval_batch_size, device);
  save_checkpoint(output, model, metadata);
  std::printf("test accuracy %.4f (%ld samples)\ncheckpoint %s\n", metadata.test_accuracy,
              test.size(), output.c_str());
  return 0;
}

}  // namespace robustscope::cli
