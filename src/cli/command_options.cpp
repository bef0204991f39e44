// Options several commands share, and the parse-and-help routine.
#include "cli/command_options.hpp"

#include <iostream>

#include "core/error.hpp"
#include "core/models/checkpoint.hpp"
#include "core/runtime/device.hpp"
#include "core/settings_text.hpp"

namespace robustscope::cli {

void add_runtime_options(po::options_description& options, RuntimeOptions& runtime) {
  options.add_options()("device", po::value(&runtime.device)->default_value(runtime.device),
                        "auto | cpu | cuda | cuda:i")(
      "threads", po::value(&runtime.threads)->default_value(runtime.threads),
      "LibTorch intra-op threads (0: OMP_NUM_THREADS if set, else every core this process may "
      "use)");
}

ModelChoice choose_model(const std::string& command, const std::string& checkpoint,
                         const std::string& torchscript, const std::string& dataset) {
  if (checkpoint.empty() == torchscript.empty()) {
    throw Error("robustscope " + command, "give exactly one of --model and --torchscript");
  }
  if (!torchscript.empty()) {
    if (dataset.empty()) throw Error("--dataset", "is required with --torchscript");
    return {{"torchscript", torchscript}, dataset};
  }
  return {{"checkpoint", checkpoint},
          dataset.empty() ? read_checkpoint_metadata(checkpoint).dataset : dataset};
}

torch::Device apply_runtime_options(const RuntimeOptions& runtime) {
  if (runtime.threads < 0) {
    throw Error("--threads", "must be >= 0, got " + std::to_string(runtime.threads));
  }
  const torch::Device device = parse_device(runtime.device);
  const int threads = configure_threads(runtime.threads);
  std::cout << "device " << device << ", " << threads << " threads\n";
  return device;
}

bool parse_command(const std::string& command, const std::string& summary,
                   po::options_description& options, const Arguments& arguments,
                   const std::vector<std::string>& positional_names) {
  options.add_options()("help,h", "show this help");
  po::positional_options_description positional;
  std::string usage_operands;
  for (const std::string& name : positional_names) {
    positional.add(name.c_str(), 1);
    usage_operands += " <" + name + ">";
  }
  po::variables_map values;
  try {
    po::store(po::command_line_parser(arguments).options(options).positional(positional).run(),
              values);
    if (values.count("help")) {
      std::cout << "usage: robustscope " << command << usage_operands << " [options]\n"
                << summary << "\n\n"
                << options << "\n";
      return false;
    }
    po::notify(values);
  } catch (const po::error& error) {
    throw Error("robustscope " + command, std::string(error.what()) + " (see --help)");
  }
  return true;
}

std::vector<std::pair<std::string, std::string>> parse_pairs(const std::vector<std::string>& items,
                                                             const std::string& flag) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& item : items) {
    const size_t equals = item.find('=');
    if (equals == std::string::npos || equals == 0 || equals + 1 == item.size()) {
      throw Error(flag, "\"" + item + "\" is not key=value");
    }
    pairs.emplace_back(item.substr(0, equals), item.substr(equals + 1));
  }
  return pairs;
}

std::map<std::string, int64_t> parse_integer_pairs(const std::vector<std::string>& items,
                                                   const std::string& flag) {
  std::map<std::string, int64_t> pairs;
  for (const auto& [key, value] : parse_pairs(items, flag)) {
    pairs[key] = parse_integer(flag + " " + key, value);
  }
  return pairs;
}

}  // namespace robustscope::cli
