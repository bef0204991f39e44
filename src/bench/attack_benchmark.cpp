// robustscope-bench-attacks: samples/s of PGD-K and of the metric with K steps against the bare
// forward+backward ceiling measured in the same run (a K-step method costs K F+B per sample, so its
// ceiling is ceiling_rate / K), and of the same PGD in Python PyTorch, run as a child process.
#include <torch/torch.h>
#include <boost/program_options.hpp>

#include <cstdio>
#include <iostream>
#include <sstream>

#include "bench/measurement.hpp"
#include "core/attack/attacks.hpp"
#include "core/metric/robustness_metric.hpp"
#include "core/models/architectures.hpp"
#include "core/runtime/device.hpp"

namespace po = boost::program_options;
using namespace robustscope;

namespace {

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) items.push_back(item);
  return items;
}

// Samples/s of the Python PGD (scripts/bench_pgd.py), or a negative number when it cannot run.
double python_pgd_rate(const std::string& python, const std::string& arch, int64_t batch,
                       int64_t steps, int repetitions, int threads) {
  const std::string command = python + " " ROBUSTSCOPE_SOURCE_DIR "/scripts/bench_pgd.py --arch " +
                              arch + " --batch " + std::to_string(batch) + " --steps " +
                              std::to_string(steps) + " --repetitions " +
                              std::to_string(repetitions) + " --threads " + std::to_string(threads);
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return -1;
  double rate = -1;
  char line[256];
  while (fgets(line, sizeof(line), pipe)) std::sscanf(line, "samples_per_second %lf", &rate);
  return pclose(pipe) == 0 ? rate : -1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string models = "small-cnn,preact-resnet18", batch_sizes = "128,256", device_name = "auto",
              python = "/usr/bin/python3";
  int64_t steps = 20;  // the metric's default
  int repetitions = 3, threads = 0;
  bool json = false, skip_python = false;
  po::options_description options("robustscope-bench-attacks options");
  options.add_options()("models", po::value(&models)->default_value(models),
                        "comma-separated architectures")(
      "batch-sizes", po::value(&batch_sizes)->default_value(batch_sizes), "comma-separated")(
      "steps", po::value(&steps)->default_value(steps), "K: steps of PGD and of the metric")(
      "repetitions", po::value(&repetitions)->default_value(repetitions), "timed repetitions")(
      "device", po::value(&device_name)->default_value(device_name), "auto | cpu | cuda[:i]")(
      "threads", po::value(&threads)->default_value(threads), "0: every core")(
      "python", po::value(&python)->default_value(python),
      "Python with torch for the PGD baseline")("no-python", po::bool_switch(&skip_python),
                                                "skip the Python baseline")(
      "json", po::bool_switch(&json), "one JSON object per row");
  if (const int exit_code =
          bench::parse_benchmark_options("robustscope-bench-attacks", argc, argv, options);
      exit_code >= 0) {
    return exit_code;
  }
  const torch::Device device = parse_device(device_name);
  const int thread_count = configure_threads(threads);
  if (!json) {
    std::printf(
        "device %s, %d threads, K = %ld steps, %d repetitions (median; spread = "
        "(max-min)/median)\n\n%-58s %12s %9s %8s %10s\n",
        c10::str(device).c_str(), thread_count, steps, repetitions, "measurement", "samples/s",
        "spread", "ratio", "peak MiB");
  }
  for (const std::string& arch : split(models)) {
    const DatasetInfo info =
        dataset_info(arch == "small-cnn" || arch == "mlp" ? "mnist" : "cifar10");
    seed_all(0);
    BuiltinClassifier model(ArchitectureConfig::for_dataset(arch, info));
    model.to(device);
    model.set_training(false);
    for (const std::string& batch_text : split(batch_sizes)) {
      const int64_t batch = std::stoll(batch_text);
      const std::string prefix = arch + " b" + batch_text + " ";
      const torch::Tensor x = torch::rand(info.shape.batch_sizes(batch), torch::device(device));
      torch::Tensor labels;
      {
        torch::NoGradGuard no_grad;
        labels = model.forward(x).argmax(1);  // all correct: every sample is attacked
      }
      const torch::Tensor ids = torch::arange(batch);
      auto rate = [&](const bench::Timing& t) { return batch / t.median(); };
      auto spread = [](const bench::Timing& t) { return (t.max() - t.min()) / t.median(); };

      const bench::Timing forward = bench::measure(repetitions, [&] {
        torch::NoGradGuard no_grad;
        model.forward(x);
      });
      bench::print_row({prefix + "forward (no grad)", rate(forward), spread(forward), 0,
                        bench::peak_memory_mib()},
                       json);
      // One ceiling repetition is K passes, as long as one PGD-K run, so both see the same noise.
      const bench::Timing ceiling = bench::measure(repetitions, [&] {
        for (int64_t step = 0; step < steps; ++step) {
          torch::Tensor input = x.detach().requires_grad_(true);
          const torch::Tensor loss = torch::cross_entropy_loss(model.forward(input), labels);
          torch::autograd::grad({loss}, {input});
        }
      });
      const double ceiling_rate = rate(ceiling) * steps;
      bench::print_row({prefix + "ceiling: forward+backward to the input", ceiling_rate,
                        spread(ceiling), 1.0, bench::peak_memory_mib()},
                       json);

      AttackConfig pgd;
      pgd.name = "pgd";
      pgd.epsilon = 8.0 / 255;
      pgd.steps = steps;
      const bench::Timing pgd_timing =
          bench::measure(repetitions, [&] { run_attack(model, x, labels, ids, pgd); });
      bench::print_row(
          {prefix + "PGD-" + std::to_string(steps) + " (C++)", rate(pgd_timing), spread(pgd_timing),
           rate(pgd_timing) * steps / ceiling_rate, bench::peak_memory_mib()},
          json);

      MetricConfig metric;
      metric.epsilon = 8.0 / 255;
      metric.steps = steps;
      const bench::Timing metric_timing =
          bench::measure(repetitions, [&] { compute_metric(model, x, ids, metric); });
      bench::print_row({prefix + "metric, " + std::to_string(steps) + " steps (C++)",
                        rate(metric_timing), spread(metric_timing),
                        rate(metric_timing) * steps / ceiling_rate, bench::peak_memory_mib()},
                       json);

      if (!skip_python && device.is_cpu()) {
        const double python_rate =
            python_pgd_rate(python, arch, batch, steps, repetitions, thread_count);
        if (python_rate > 0) {
          bench::print_row({prefix + "PGD-" + std::to_string(steps) + " (Python PyTorch)",
                            python_rate, 0, python_rate * steps / ceiling_rate, 0},
                           json);
          if (!json) {
            std::printf("%-58s %12.2f\n", (prefix + "C++ PGD / Python PGD").c_str(),
                        rate(pgd_timing) / python_rate);
          }
        } else {
          std::printf("%-58s (skipped: %s could not run scripts/bench_pgd.py)\n",
                      (prefix + "PGD (Python PyTorch)").c_str(), python.c_str());
        }
      }
    }
  }
  return 0;
}
