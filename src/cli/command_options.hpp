// Options several commands share (device, threads, data), and the one parse-and-help routine.
#pragma once

#include <torch/types.h>
#include <boost/program_options.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "core/models/model_source.hpp"

namespace robustscope::cli {

namespace po = boost::program_options;

struct RuntimeOptions {
  std::string device = "auto";
  int threads = 0;  // 0: every core available
};

void add_runtime_options(po::options_description& options, RuntimeOptions& runtime);

// Parses the device and sets the thread count; prints what is in force.
torch::Device apply_runtime_options(const RuntimeOptions& runtime);

// Parses `arguments` into `options`; `positional_names` are options that may also be given as bare
// operands, in order. Returns false when --help was given (after printing help).
bool parse_command(const std::string& command, const std::string& summary,
                   po::options_description& options, const Arguments& arguments,
                   const std::vector<std::string>& positional_names = {});

// The model of --model (checkpoint) or --torchscript, exactly one, and its data set: --dataset, or
// the checkpoint's own. Throws Error naming the flags otherwise.
struct ModelChoice {
  ModelSource source;
  std::string dataset;
};
ModelChoice choose_model(const std::string& command, const std::string& checkpoint,
                         const std::string& torchscript, const std::string& dataset);

// "key=value" pairs (for --metric-arg). Throws Error naming the bad item.
std::vector<std::pair<std::string, std::string>> parse_pairs(const std::vector<std::string>& items,
                                                             const std::string& flag);

// "key=value" integer pairs (for --arch-arg). Throws Error naming the bad item.
std::map<std::string, int64_t> parse_integer_pairs(const std::vector<std::string>& items,
                                                   const std::string& flag);

}  // namespace robustscope::cli
