// Benchmark measurement.
#include "bench/measurement.hpp"

#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

namespace robustscope::bench {

double Timing::median() const {
  std::vector<double> sorted = seconds;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  return n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}

double Timing::min() const { return *std::min_element(seconds.begin(), seconds.end()); }
double Timing::max() const { return *std::max_element(seconds.begin(), seconds.end()); }

Timing measure(int repetitions, const std::function<void()>& body,
               const std::function<void()>& between) {
  const auto synchronise = [] {
    if (torch::cuda::is_available()) torch::cuda::synchronize();
  };
  body();
  synchronise();
  Timing timing;
  for (int r = 0; r < repetitions; ++r) {
    const auto start = std::chrono::steady_clock::now();
    body();
    synchronise();
    timing.seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (between) between();
  }
  return timing;
}

double peak_memory_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

void print_row(const Row& row, bool json) {
  if (json) {
    std::printf(
        "{\"name\": \"%s\", \"items_per_second\": %.2f, \"spread\": %.4f, \"ratio\": %.4f, "
        "\"peak_mib\": %.1f}\n",
        row.name.c_str(), row.items_per_second, row.spread, row.ratio, row.peak_mib);
  } else {
    std::printf("%-58s %12.1f %8.1f%% %8s %10.0f\n", row.name.c_str(), row.items_per_second,
                100 * row.spread,
                row.ratio > 0 ? std::to_string(row.ratio).substr(0, 5).c_str() : "-", row.peak_mib);
  }
  std::fflush(stdout);
}

int parse_benchmark_options(const std::string& program, int argc, char** argv,
                            boost::program_options::options_description& options) {
  namespace po = boost::program_options;
  options.add_options()("help,h", "show this help");
  po::variables_map values;
  try {
    po::store(po::parse_command_line(argc, argv, options), values);
    po::notify(values);
  } catch (const po::error& error) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), error.what());
    return 2;
  }
  if (values.count("help")) {
    std::cout << options << "\n";
    return 0;
  }
  return -1;
}

}  // namespace robustscope::bench
