// robustscope landscape: loss and decision surfaces around chosen samples of a model, into HDF5.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli/command_options.hpp"
#include "core/error.hpp"
#include "core/landscape/landscape.hpp"
#include "core/models/checkpoint.hpp"
#include "core/models/model_source.hpp"
#include "core/settings_text.hpp"
#include "core/version.hpp"
#include "engine/store/landscape_store.hpp"

namespace robustscope::cli {

int landscape_command(const Arguments& arguments) {
  std::string checkpoint, torchscript, dataset_name, data_dir = "data", split = "test",
                                                     samples_text, output;
  std::vector<std::string> settings;
  int64_t limit = 4;
  LandscapeConfig config;
  RuntimeOptions runtime;
  po::options_description options("landscape options");
  options.add_options()("model", po::value(&checkpoint), "robustscope checkpoint")(
      "torchscript", po::value(&torchscript), "TorchScript model (inputs in [0,1], logits out)")(
      "dataset", po::value(&dataset_name), "mnist | cifar10 (default: the checkpoint's)")(
      "data-dir", po::value(&data_dir)->default_value(data_dir), "folder holding <dataset>/")(
      "split", po::value(&split)->default_value(split), "train | test")(
      "samples", po::value(&samples_text),
      "comma-separated sample indices (default: the first --limit)")(
      "limit", po::value(&limit)->default_value(limit),
      "how many samples when --samples is not given")(
      "epsilon", po::value(&config.epsilon)->default_value(config.epsilon), "reference radius ε")(
      "range", po::value(&config.range)->default_value(config.range),
      "span [−range, range] (0: 3ε)")(
      "resolution-1d", po::value(&config.resolution_1d)->default_value(config.resolution_1d),
      "points per cut (odd)")("resolution-2d",
                              po::value(&config.resolution_2d)->default_value(config.resolution_2d),
                              "grid points per side (odd)")(
      "adversarial-direction",
      po::value(&config.adversarial_direction)->default_value(config.adversarial_direction),
      "sign | gradient | pgd | metric")(
      "random-direction",
      po::value(&config.random_direction)->default_value(config.random_direction),
      "rademacher | gaussian")("seed", po::value(&config.seed)->default_value(config.seed),
                               "seed of the random directions")(
      "chunk-size", po::value(&config.chunk_size)->default_value(config.chunk_size),
      "points per forward pass (the memory cap)")(
      "setting", po::value(&settings)->composing(),
      "further key=value (repeatable): clip, pgd.<attack key>, metric.<metric key>")(
      "output", po::value(&output)->required(), "HDF5 file to create (must not exist)");
  add_runtime_options(options, runtime);
  if (!parse_command("landscape", "Computes input-space loss and decision surfaces.", options,
                     arguments)) {
    return 0;
  }
  for (const auto& [key, value] : parse_pairs(settings, "--setting")) config.set(key, value);
  config.validate();
  const ModelChoice choice = choose_model("landscape", checkpoint, torchscript, dataset_name);
  const ModelSource& source = choice.source;
  dataset_name = choice.dataset;
  if (std::filesystem::exists(output)) {
    throw Error(output, "exists already: landscape results are never overwritten");
  }
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
