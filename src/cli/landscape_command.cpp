// robustscope landscape: loss and decision surfaces around chosen samples of a model, into HDF5.
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

#include "cli/command_options.hpp"
#include "core/error.hpp"
#include "core/landscape/landscape.hpp"
#include "core/models/checkpoint.hpp"
#include "core/models/model_source.hpp"
#include "core/runtime/files.hpp"
#include "core/settings.hpp"
#include "core/version.hpp"
#include "engine/records/landscape_store.hpp"

namespace robustscope::cli {

int landscape_command(const Arguments& arguments) {
  std::string checkpoint, torchscript, dataset_name, data_dir = default_data_dir(), split = "test",
                                                     samples_text, output;
  std::vector<std::string> settings;
  int64_t limit = 4;
  bool force = false;
  LandscapeConfig config;
  RuntimeOptions runtime;
  // The common settings as flags of their own (--resolution-2d sets resolution_2d); the rest
  // through --setting.
  std::map<std::string, std::string> flag_settings;
  const std::vector<std::string> flag_keys = {"epsilon",
                                              "range",
                                              "resolution_1d",
                                              "resolution_2d",
                                              "sampling",
                                              "boundary_tolerance",
                                              "adversarial_direction",
                                              "direction_loss",
                                              "random_direction",
                                              "seed",
                                              "chunk_size"};
  po::options_description options("landscape options");
  for (const std::string& key : flag_keys) {
    std::string flag = key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    options.add_options()(flag.c_str(), po::value(&flag_settings[key]),
                          ("landscape setting " + key + " (docs/landscapes.md)").c_str());
  }
  options.add_options()("model", po::value(&checkpoint), "robustscope checkpoint")(
      "torchscript", po::value(&torchscript),
      "TorchScript model (inputs in [0,1], logits out; TorchScript is code: load only files you "
      "trust)")("dataset", po::value(&dataset_name),
                "mnist | fmnist | cifar10 (default: the checkpoint's)")(
      "data-dir", value_with_default(&data_dir),
      "folder holding <dataset>/ (default: $ROBUSTSCOPE_DATA_DIR or data)")(
      "split", value_with_default(&split), "train | test")(
      "samples", po::value(&samples_text),
      "comma-separated sample indices (default: the first --limit)")(
      "limit", value_with_default(&limit), "how many samples when --samples is not given")(
      "setting", po::value(&settings)->composing(),
      "further landscape setting key=value (repeatable; docs/landscapes.md): clip, "
      "pgd.<attack key>, metric.<metric key>")("output", po::value(&output)->required(),
                                               "HDF5 file to write")(
      "force", po::bool_switch(&force), "overwrite an existing --output");
  add_runtime_options(options, runtime);
  if (!parse_command("landscape", "Computes input-space loss and decision surfaces.", options,
                     arguments)) {
    return 0;
  }
  for (const auto& [key, value] : flag_settings) {
    if (value.empty()) continue;
    std::string flag = "--" + key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    try {
      config.set(key, value);
    } catch (const Error& error) {
      throw Error(flag, error.message());
    }
  }
  for (const auto& [key, value] : parse_pairs(settings, "--setting")) {
    if (flag_settings.count(key) && !flag_settings.at(key).empty())
      throw Error("--setting", "\"" + key + "\" is given by its own flag too");
    try {
      config.set(key, value);
    } catch (const Error& error) {
      throw Error("--setting", error.what());
    }
  }
  config.validate();
  check_output_path(output, force, "--output");
  if (limit < 1) throw Error("--limit", "must be at least 1");
  const ModelChoice choice = choose_model(checkpoint, torchscript, dataset_name);
  const ModelSource& source = choice.source;
  dataset_name = choice.dataset;
  check_epsilon(Norm::kLinf, config.epsilon, dataset_info(dataset_name).shape.elements(),
                "epsilon");
  const torch::Device device = apply_runtime_options(runtime);
  const Dataset data = load_dataset(dataset_name, data_dir, split);
  std::vector<int64_t> samples;
  if (samples_text.empty()) {
    for (int64_t i = 0; i < std::min(limit, data.size()); ++i) samples.push_back(i);
  } else {
    std::stringstream stream(samples_text);
    std::string item;
    while (std::getline(stream, item, ',')) {
      const int64_t index = parse_integer("--samples", item);
      if (index < 0 || index >= data.size()) {
        throw Error("--samples",
                    "index " + item + " is outside 0.." + std::to_string(data.size() - 1));
      }
      samples.push_back(index);
    }
  }
  auto model = load_classifier(source, data.info, device);

  const std::string started = utc_timestamp();
  Record record;
  add_landscape_file_header(record, {{"model", model->description()},
                                     {"model_path", source.path},
                                     {"model_kind", source.kind},
                                     {"dataset", dataset_name},
                                     {"split", split},
                                     {"started", started}});
  add_landscape_settings(record, config);
  std::printf("%8s %6s %6s %10s %10s %10s %10s %9s %9s %7s\n", "sample", "label", "clean",
              "S=0 +d1", "S=0 -d1", "S=0 +d2", "S=0 -d2", "correct@e", "|slope|", "seconds");
  for (const int64_t index : samples) {
    const auto start = std::chrono::steady_clock::now();
    const torch::Tensor x0 = data.images[index].unsqueeze(0).to(device);
    const int64_t label = data.labels[index].item<int64_t>();
    int64_t clean_class = 0;
    {
      torch::NoGradGuard no_grad;
      clean_class = model->forward(x0).argmax(1).item<int64_t>();
    }
    const LandscapeResult result = compute_landscape(*model, x0, label, index, config);
    add_landscape_sample(record, index, label, clean_class, result);
    std::printf("%8ld %6ld %6ld %10.4f %10.4f %10.4f %10.4f %9.3f %9.3f %7.1f\n", index, label,
                clean_class, result.boundary_adversarial_positive,
                result.boundary_adversarial_negative, result.boundary_random_positive,
                result.boundary_random_negative, result.correct_fraction_within_epsilon,
                result.mean_abs_slope,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    std::fflush(stdout);
  }
  // Written once complete, to a partial file renamed into place: a killed run leaves no half
  // result.
  write_record_file(output, record);
  std::printf("landscapes: %s (distances are in input units; inf: no boundary within the range)\n",
              output.c_str());
  return 0;
}

}  // namespace robustscope::cli
