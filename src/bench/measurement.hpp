// Benchmark measurement in the Google Benchmark manner: repetitions, median and spread, and the
// process's peak memory; rows print as a table or as JSON lines.
#pragma once

#include <boost/program_options.hpp>

#include <functional>
#include <string>
#include <vector>

namespace robustscope::bench {

struct Timing {
  std::vector<double> seconds;  // one per repetition
  double median() const;
  double min() const;
  double max() const;
};

// Runs `body` once to warm up, then `repetitions` times (synchronising CUDA when present).
// `between`, untimed, runs after each repetition: a baseline timed there sees the same machine
// noise.
Timing measure(int repetitions, const std::function<void()>& body,
               const std::function<void()>& between = {});

// Peak resident set size of this process so far, in MiB (VmHWM).
double peak_memory_mib();

struct Row {
  std::string name;         // what was measured
  double items_per_second;  // samples/s (median repetition)
  double spread;            // (max − min)/median of the repetitions
  double ratio;             // to the ceiling measured in the same run (0: none)
  double peak_mib;
};

void print_row(const Row& row, bool json);

// Parses a benchmark's command line into `options` (adds --help). Returns the exit code to stop
// with (0 after --help, 2 on a bad option), or -1 to go on.
int parse_benchmark_options(const std::string& program, int argc, char** argv,
                            boost::program_options::options_description& options);

}  // namespace robustscope::bench
