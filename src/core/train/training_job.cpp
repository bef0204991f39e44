// Training jobs: settings in, checkpoint out.
#include "core/train/training_job.hpp"

#include <torch/types.h>

#include <cstdio>

#include "core/data/dataset.hpp"
#include "core/error.hpp"
#include "core/runtime/device.hpp"
#include "core/settings.hpp"

namespace robustscope {

TrainingJob TrainingJob::from_settings(const std::map<std::string, std::string>& settings,
                                       const std::string& dataset) {
  TrainingJob job;
  job.dataset = dataset;
  std::string arch = "small-cnn";
  std::map<std::string, int64_t> arguments;
  for (const auto& [key, value] : settings) {
    if (key == "arch")
      arch = value;
    else if (key == "train_limit")
      job.train_limit = parse_integer(key, value);
    else if (job.recipe.is_key(key))
      job.recipe.set(key, value);
    else if (job.config.is_key(key))
      job.config.set(key, value);
    else
      arguments[key] = parse_integer(key, value);
  }
  job.architecture = ArchitectureConfig::for_dataset(arch, dataset_info(dataset), arguments);
  job.config.validate();
  job.recipe.validate();
  if (job.train_limit < 0) throw Error("train_limit", "must be >= 0");
  return job;
}

CheckpointMetadata run_training_job(const TrainingJob& job, const std::string& data_dir,
                                    const std::string& output, torch::Device device,
                                    const std::function<void(const std::string&)>& log) {
  Dataset train = load_dataset(job.dataset, data_dir, "train");
  if (job.train_limit > 0) train = train.slice(0, job.train_limit);
  const Dataset test = load_dataset(job.dataset, data_dir, "test");
  seed_all(job.config.seed);
  BuiltinClassifier model(job.architecture);
  log("train " + model.description() + " by " + recipe_names().name(job.recipe.name) + " on " +
      std::to_string(train.size()) + " " + job.dataset + " samples, " +
      std::to_string(model.parameter_count()) + " parameters");
  // Distillation trains two networks (teacher, then student): twice the epochs.
  const int64_t total_epochs =
      job.config.epochs * (job.recipe.name == Recipe::kDistillation ? 2 : 1);
  int64_t epochs_done = 0;
  double elapsed = 0;
  train_with_recipe(model, train, job.config, job.recipe, device,
                    [&](const std::string& stage, const EpochReport& r) {
                      ++epochs_done;
                      elapsed += r.seconds;
                      const double left = elapsed / static_cast<double>(epochs_done) *
                                          static_cast<double>(total_epochs - epochs_done);
                      char line[320];
                      std::snprintf(line, sizeof(line),
                                    "%-8s epoch %3ld/%ld  loss %.4f  train acc %.4f  lr %.5f  "
                                    "%.1f s  %.0f samples/s | %.0f s elapsed, ~%.0f s left",
                                    stage.c_str(), r.epoch, r.epochs, r.loss, r.train_accuracy,
                                    r.learning_rate, r.seconds, r.samples_per_second, elapsed,
                                    left);
                      log(line);
                    });
  CheckpointMetadata metadata;
  metadata.dataset = job.dataset;
  metadata.recipe = job.config.to_entries();
  for (const auto& [key, value] : job.recipe.to_entries()) metadata.recipe[key] = value;
  metadata.recipe["train_samples"] = std::to_string(train.size());
  metadata.seed = job.config.seed;
  metadata.test_accuracy = clean_accuracy(model, test, 500, device);
  save_checkpoint(output, model, metadata);
  char line[256];
  std::snprintf(line, sizeof(line), "test accuracy %.4f (%ld samples) -> %s",
                metadata.test_accuracy, test.size(), output.c_str());
  log(line);
  return metadata;
}

}  // namespace robustscope
