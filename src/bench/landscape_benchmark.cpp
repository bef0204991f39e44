// robustscope-bench-landscape: grid points per second of compute_landscape (cuts and grid, chunked)
// against the bare forward ceiling — forward passes over chunks of the same size, measured in the
// same run.
#include <torch/types.h>
#include <torch/utils.h>

#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "bench/measurement.hpp"
#include "core/landscape/landscape.hpp"
#include "core/models/architectures.hpp"
#include "core/runtime/device.hpp"
#include "core/runtime/host_memory.hpp"

namespace po = boost::program_options;
using namespace robustscope;

int main(int argc, char** argv) {
  std::string models = "small-cnn,preact-resnet18", device_name = "auto";
  int64_t resolution = 51, chunk_size = 512;
  int repetitions = 3, threads = 0;
  bool json = false;
  po::options_description options("robustscope-bench-landscape options");
  options.add_options()("models", po::value(&models)->default_value(models),
                        "comma-separated architectures")(
      "resolution", po::value(&resolution)->default_value(resolution),
      "grid points per side (odd)")("chunk-size", po::value(&chunk_size)->default_value(chunk_size),
                                    "points per forward pass")(
      "repetitions", po::value(&repetitions)->default_value(repetitions), "timed repetitions")(
      "device", po::value(&device_name)->default_value(device_name), "auto | cpu | cuda[:i]")(
      "threads", po::value(&threads)->default_value(threads), "0: every core")(
      "json", po::bool_switch(&json), "one JSON object per row");
  if (const int exit_code =
          bench::parse_benchmark_options("robustscope-bench-landscape", argc, argv, options);
      exit_code >= 0) {
    return exit_code;
  }
  const HostMemorySettings host_memory = host_memory_settings_from_environment();
  apply_host_memory_settings(host_memory);  // as the robustscope command does
  const torch::Device device = parse_device(device_name);
  const int thread_count = configure_threads(threads).threads;
  if (!json) {
    std::printf(
        "device %s, %d threads, %ldx%ld grid + two cuts of %ld, chunks of %ld, %d "
        "repetitions, host memory %s\n\n%-58s %12s %9s %8s %10s\n",
        c10::str(device).c_str(), thread_count, resolution, resolution, resolution, chunk_size,
        repetitions, to_string(host_memory.policy).c_str(), "measurement", "points/s", "spread",
        "ratio", "peak MiB");
  }
  std::stringstream names(models);
  std::string arch;
  while (std::getline(names, arch, ',')) {
    const DatasetInfo info =
        dataset_info(arch == "small-cnn" || arch == "mlp" ? "mnist" : "cifar10");
    seed_all(0);
    BuiltinClassifier model(ArchitectureConfig::for_dataset(arch, info));
    model.to(device);
    model.set_training(false);
    LandscapeConfig config;
    config.epsilon = 8.0 / 255;
    config.resolution_1d = resolution;
    config.resolution_2d = resolution;
    config.chunk_size = chunk_size;
    const int64_t points = resolution * resolution + 2 * resolution;
    const torch::Tensor x0 = torch::rand(info.shape.batch_sizes(1), torch::device(device));
    const torch::Tensor chunk =
        torch::rand(info.shape.batch_sizes(chunk_size), torch::device(device));
    const int64_t chunks = (points + chunk_size - 1) / chunk_size;
    auto spread = [](const bench::Timing& t) { return (t.max() - t.min()) / t.median(); };
    // The ceiling evaluates as many points as the landscape, in full chunks, with nothing else.
    const bench::Timing ceiling = bench::measure(repetitions, [&] {
      torch::NoGradGuard no_grad;
      for (int64_t c = 0; c < chunks; ++c) model.forward(chunk);
    });
    const double ceiling_rate = chunks * chunk_size / ceiling.median();
    bench::print_row({arch + " ceiling: bare forward passes", ceiling_rate, spread(ceiling), 1.0,
                      bench::peak_memory_mib()},
                     json);
    const bench::Timing landscape =
        bench::measure(repetitions, [&] { compute_landscape(model, x0, 0, 0, config); });
    const double rate = points / landscape.median();
    bench::print_row({arch + " landscape (grid + cuts + directions)", rate, spread(landscape),
                      rate / ceiling_rate, bench::peak_memory_mib()},
                     json);

    // Adaptive sampling over a range wide enough to hold boundaries: its forward passes against a
    // uniform landscape of the same precision (points every boundary_tolerance·range).
    LandscapeConfig adaptive = config;
    adaptive.sampling = LandscapeSampling::kAdaptive;
    adaptive.range = 1.0;
    int64_t label = 0;
    {
      torch::NoGradGuard no_grad;
      label = model.forward(x0).argmax(1).item<int64_t>();
    }
    LandscapeResult refined;
    const bench::Timing adaptive_timing = bench::measure(
        repetitions, [&] { refined = compute_landscape(model, x0, label, 0, adaptive); });
    const double side = std::floor(2 / adaptive.boundary_tolerance) + 1;
    const double uniform_passes = 2 * side + side * side;
    bench::print_row(
        {arch + " adaptive landscape (points/s)", refined.forward_passes / adaptive_timing.median(),
         spread(adaptive_timing), refined.forward_passes / adaptive_timing.median() / ceiling_rate,
         bench::peak_memory_mib()},
        json);
    if (!json) {
      std::printf(
          "%-58s %12ld forward passes = %.5f of a uniform landscape of that precision (%.0f; "
          "target <= 0.25); %ld grid points refined, cuts of %ld and %ld points\n",
          (arch + " adaptive, tolerance " + format_number(adaptive.boundary_tolerance) +
           " of the range")
              .c_str(),
          refined.forward_passes, refined.forward_passes / uniform_passes, uniform_passes,
          refined.refined_points.size(0), refined.coordinates_adversarial.size(0),
          refined.coordinates_random.size(0));
    }
  }
  return 0;
}
