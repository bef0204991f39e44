// robustscope-bench-attacks: samples/s of PGD-K and of the metric with K steps against the bare
// forward+backward ceiling measured in the same run (a K-step method costs K F+B per sample, so its
// ceiling is ceiling_rate / K), and of the same PGD in Python PyTorch, run as a child process.
#include <torch/autograd.h>
#include <torch/types.h>
#include <torch/utils.h>
#include <boost/program_options.hpp>

#include <cstdio>
#include <iostream>
#include <sstream>

#include <sys/wait.h>
#include <unistd.h>

#include "bench/measurement.hpp"
#include "core/attack/attacks.hpp"
#include "core/certify/certify.hpp"
#include "core/error.hpp"
#include "core/metric/robustness_metric.hpp"
#include "core/models/architectures.hpp"
#include "core/runtime/device.hpp"
#include "core/runtime/host_memory.hpp"
#include "core/runtime/host_sync.hpp"
#include "core/runtime/step_graph.hpp"

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

// The Python PyTorch baseline (scripts/bench_pgd.py --serve) as a child process on two pipes: each
// request times one run there, so its repetitions interleave with ours and share the machine's
// noise.
class PythonBaseline {
 public:
  PythonBaseline(const std::string& python, const std::string& arch, int64_t batch, int64_t steps,
                 int threads, const torch::Device& device, bool malloc_without_mmap) {
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(to_child[0], STDIN_FILENO);
      dup2(from_child[1], STDOUT_FILENO);
      for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]}) close(fd);
      if (malloc_without_mmap) {  // glibc's nearest to our cache: large blocks from the heap, kept
        setenv("MALLOC_MMAP_MAX_", "0", 1);
        setenv("MALLOC_TRIM_THRESHOLD_", "2147483647", 1);
      }
      const std::string script = ROBUSTSCOPE_SOURCE_DIR "/scripts/bench_pgd.py";
      const std::vector<std::string> args = {python,
                                             script,
                                             "--serve",
                                             "--arch",
                                             arch,
                                             "--batch",
                                             std::to_string(batch),
                                             "--steps",
                                             std::to_string(steps),
                                             "--threads",
                                             std::to_string(threads),
                                             "--device",
                                             c10::str(device)};
      std::vector<char*> argv;
      for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
      argv.push_back(nullptr);
      execv(python.c_str(), argv.data());
      _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    requests_ = fdopen(to_child[1], "w");
    replies_ = fdopen(from_child[0], "r");
    ready_ = read_line() == "ready";
  }
  ~PythonBaseline() {
    if (requests_) fclose(requests_);  // end of input: the child leaves its loop
    if (replies_) fclose(replies_);
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }
  bool ready() const { return ready_; }
  // Seconds of one "pgd" or "fb" run in the child; negative when it failed.
  double time(const char* what) {
    if (!ready_) return -1;
    std::fprintf(requests_, "%s\n", what);
    std::fflush(requests_);
    const std::string reply = read_line();
    return reply.empty() ? -1 : std::stod(reply);
  }

 private:
  std::string read_line() {
    char line[256];
    if (!replies_ || !fgets(line, sizeof(line), replies_)) return "";
    std::string text(line);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  }
  pid_t pid_ = -1;
  FILE* requests_ = nullptr;
  FILE* replies_ = nullptr;
  bool ready_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  std::string models = "small-cnn,preact-resnet18", batch_sizes = "128,256", device_name = "auto",
              python = "/usr/bin/python3", host_memory_name = "cache", python_malloc = "default";
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
      "host-memory", po::value(&host_memory_name)->default_value(host_memory_name),
      "cache | system: LibTorch's CPU allocator here (see core/runtime/host_memory.hpp)")(
      "python-malloc", po::value(&python_malloc)->default_value(python_malloc),
      "default | no-mmap: glibc's settings for the Python baseline (no-mmap: "
      "MALLOC_MMAP_MAX_=0, no trimming)")("python", po::value(&python)->default_value(python),
                                          "Python with torch for the PGD baseline")(
      "no-python", po::bool_switch(&skip_python), "skip the Python baseline")(
      "json", po::bool_switch(&json), "one JSON object per row");
  if (const int exit_code =
          bench::parse_benchmark_options("robustscope-bench-attacks", argc, argv, options);
      exit_code >= 0) {
    return exit_code;
  }
  HostMemorySettings host_memory = host_memory_settings_from_environment();
  try {
    host_memory.policy = parse_host_memory_policy(host_memory_name, "--host-memory");
  } catch (const Error& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 2;
  }
  if (python_malloc != "default" && python_malloc != "no-mmap") {
    std::fprintf(stderr, "--python-malloc: \"%s\" is not default or no-mmap\n",
                 python_malloc.c_str());
    return 2;
  }
  apply_host_memory_settings(host_memory);
  const torch::Device device = parse_device(device_name);
  const int thread_count = configure_threads(threads).threads;
  if (!json) {
    std::printf(
        "device %s, %d threads, K = %ld steps, %d repetitions (median; spread = "
        "(max-min)/median); host memory %s, Python's malloc %s\n\n%-58s %12s %9s %8s %10s\n",
        c10::str(device).c_str(), thread_count, steps, repetitions,
        to_string(host_memory.policy).c_str(), python_malloc.c_str(), "measurement", "samples/s",
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

      // The Python baseline times its run after each of ours (same repetitions, same noise).
      std::unique_ptr<PythonBaseline> python_baseline;
      if (!skip_python) {
        python_baseline = std::make_unique<PythonBaseline>(python, arch, batch, steps, thread_count,
                                                           device, python_malloc == "no-mmap");
        if (!python_baseline->ready()) {
          std::printf("%-58s (skipped: %s could not run scripts/bench_pgd.py)\n",
                      (prefix + "Python PyTorch baseline").c_str(), python.c_str());
          python_baseline.reset();
        }
      }
      bench::Timing python_forward, python_ceiling, python_pgd;
      auto python_between = [&](bench::Timing& into, const char* what) {
        return [&into, what, &python_baseline] {
          if (python_baseline) into.seconds.push_back(python_baseline->time(what));
        };
      };

      const bench::Timing forward = bench::measure(
          repetitions,
          [&] {
            torch::NoGradGuard no_grad;
            model.forward(x);
          },
          python_between(python_forward, "f"));
      bench::print_row({prefix + "forward (no grad)", rate(forward), spread(forward), 0,
                        bench::peak_memory_mib()},
                       json);

      // One ceiling repetition is K passes, as long as one PGD-K run, so both see the same noise.
      const bench::Timing ceiling = bench::measure(
          repetitions,
          [&] {
            for (int64_t step = 0; step < steps; ++step) {
              torch::Tensor input = x.detach().requires_grad_(true);
              const torch::Tensor loss = torch::cross_entropy_loss(model.forward(input), labels);
              torch::autograd::grad({loss}, {input});
            }
          },
          python_between(python_ceiling, "fb"));
      const double ceiling_rate = rate(ceiling) * steps;
      bench::print_row({prefix + "ceiling: forward+backward to the input", ceiling_rate,
                        spread(ceiling), 1.0, bench::peak_memory_mib()},
                       json);

      AttackConfig pgd = make_attack_config("pgd");
      pgd.epsilon = 8.0 / 255;
      pgd.steps = steps;
      const bench::Timing pgd_timing = bench::measure(
          repetitions, [&] { run_attack(model, x, labels, ids, pgd); },
          python_between(python_pgd, "pgd"));
      bench::print_row(
          {prefix + "PGD-" + std::to_string(steps) + " (C++)", rate(pgd_timing), spread(pgd_timing),
           rate(pgd_timing) * steps / ceiling_rate, bench::peak_memory_mib()},
          json);

      // On a GPU of a build with CUDA graphs: the same PGD with its steps replayed as a graph.
      const bool graphs_by_default = cuda_graphs_enabled();
      if (cuda_graphs_supported(device)) {
        set_cuda_graphs(!graphs_by_default);
        const bench::Timing other_timing =
            bench::measure(repetitions, [&] { run_attack(model, x, labels, ids, pgd); });
        set_cuda_graphs(graphs_by_default);
        bench::print_row({prefix + "PGD-" + std::to_string(steps) + " (C++, CUDA graphs " +
                              (graphs_by_default ? "off)" : "on)"),
                          rate(other_timing), spread(other_timing),
                          rate(other_timing) * steps / ceiling_rate, bench::peak_memory_mib()},
                         json);
      }

      // Host synchronisations of one PGD-K run: a GPU stalls at each, so they must not grow with K.
      int64_t pgd_syncs = 0;
      {
        const HostSyncCounter counter;
        run_attack(model, x, labels, ids, pgd);
        pgd_syncs = counter.total();
      }

      MetricConfig metric;
      metric.epsilon = 8.0 / 255;
      metric.steps = steps;
      const bench::Timing metric_timing =
          bench::measure(repetitions, [&] { compute_metric(model, x, ids, metric); });
      bench::print_row({prefix + "metric, " + std::to_string(steps) + " steps (C++)",
                        rate(metric_timing), spread(metric_timing),
                        rate(metric_timing) * steps / ceiling_rate, bench::peak_memory_mib()},
                       json);
      if (cuda_graphs_supported(device)) {
        set_cuda_graphs(!graphs_by_default);
        const bench::Timing other_timing =
            bench::measure(repetitions, [&] { compute_metric(model, x, ids, metric); });
        set_cuda_graphs(graphs_by_default);
        bench::print_row({prefix + "metric, " + std::to_string(steps) +
                              " steps (C++, CUDA graphs " + (graphs_by_default ? "off)" : "on)"),
                          rate(other_timing), spread(other_timing),
                          rate(other_timing) * steps / ceiling_rate, bench::peak_memory_mib()},
                         json);
      }
      // The certified bound (CROWN) for the batch, in forward+backward passes of the batch.
      std::string why;
      if (can_bound(model, x.sizes().slice(1).vec(), why)) {
        CertifyConfig certify_config;
        certify_config.epsilon = 8.0 / 255;
        const bench::Timing crown_timing =
            bench::measure(repetitions, [&] { certify(model, x, labels, certify_config); });
        const double passes = crown_timing.median() / (ceiling.median() / steps);
        if (!json)
          std::printf("%-58s %12.1f %9.3f %8s   = %.1f forward+backward passes (target <= 50)\n",
                      (prefix + "certified bound, CROWN").c_str(), rate(crown_timing),
                      spread(crown_timing), "", passes);
      }

      int64_t metric_syncs = 0;
      {
        const HostSyncCounter counter;
        compute_metric(model, x, ids, metric);
        metric_syncs = counter.total();
      }
      if (!json)
        std::printf("%-58s %12ld %9s %8ld\n",
                    (prefix + "host synchronisations per PGD-" + std::to_string(steps) +
                     " run / metric run")
                        .c_str(),
                    pgd_syncs, "", metric_syncs);

      if (python_baseline) {
        bench::print_row({prefix + "forward (no grad; Python PyTorch, interleaved)",
                          rate(python_forward), spread(python_forward), 0, 0},
                         json);
        const double python_ceiling_rate = rate(python_ceiling) * steps;
        bench::print_row(
            {prefix + "forward+backward (Python PyTorch, interleaved)", python_ceiling_rate,
             spread(python_ceiling), python_ceiling_rate / ceiling_rate, 0},
            json);
        bench::print_row(
            {prefix + "PGD-" + std::to_string(steps) + " (Python PyTorch, interleaved)",
             rate(python_pgd), spread(python_pgd), rate(python_pgd) * steps / ceiling_rate, 0},
            json);
        if (!json) {
          std::printf("%-58s %12.3f\n", (prefix + "C++ PGD / Python PGD").c_str(),
                      python_pgd.median() / pgd_timing.median());
        }
      }
    }
  }
  if (!json && host_memory.policy == HostMemoryPolicy::kCache) {
    const HostCacheStatistics cache = host_cache_statistics();
    std::printf("\nhost memory cache: %ld hits, %ld misses, %.0f MiB cached at the end\n",
                cache.hits, cache.misses, cache.cached_bytes / 1048576.0);
  }
  return 0;
}
