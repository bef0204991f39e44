// Options several commands share (device, threads, data, output), and the one parse-and-help
// routine.
#pragma once

#include <torch/types.h>
#include <boost/program_options.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "core/models/model_source.hpp"
#include "core/settings.hpp"

namespace robustscope::cli {

namespace po = boost::program_options;

// An option's value with its default shown as the user would write it ("0.3", not
// 0.29999999999999999).
template <typename T>
po::typed_value<T>* value_with_default(T* field) {
  if constexpr (std::is_floating_point_v<T>) {
    return po::value(field)->default_value(*field, format_number(*field));
  } else if constexpr (std::is_same_v<T, std::string>) {
    return po::value(field)->default_value(*field, "\"" + *field + "\"");
  } else {
    return po::value(field)->default_value(*field);
  }
}

// --threads of run and prepare: a count of at least 0 that overrides the spec's (an Error naming
// the flag otherwise); `field` keeps its value when the flag is not given.
po::typed_value<int>* thread_override(int* field);

struct RuntimeOptions {
  std::string device = "auto";
  int threads = 0;  // 0: OMP_NUM_THREADS if set, else every core available
};

void add_runtime_options(po::options_description& options, RuntimeOptions& runtime);

// Parses the device and sets the thread pools; prints what is in force (and a capped request).
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
ModelChoice choose_model(const std::string& checkpoint, const std::string& torchscript,
                         const std::string& dataset);

// "key=value" pairs (for --metric-arg, --setting): Error naming the flag on a malformed item or a
// key given twice.
std::vector<std::pair<std::string, std::string>> parse_pairs(const std::vector<std::string>& items,
                                                             const std::string& flag);

// "key=value" integer pairs (for --arch-arg). Throws Error naming the bad item.
std::map<std::string, int64_t> parse_integer_pairs(const std::vector<std::string>& items,
                                                   const std::string& flag);

// Prints a line and flushes (progress under SLURM or a pipe appears at once).
void say(const std::string& line);

}  // namespace robustscope::cli
