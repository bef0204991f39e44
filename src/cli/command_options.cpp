// Options several commands share, and the parse-and-help routine.
#include "cli/command_options.hpp"

#include <cstdio>
#include <iostream>
#include <set>

#include "core/error.hpp"
#include "core/models/checkpoint.hpp"
#include "core/runtime/device.hpp"

namespace robustscope::cli {

void say(const std::string& line) {
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);
}

void add_runtime_options(po::options_description& options, RuntimeOptions& runtime) {
  options.add_options()("device", value_with_default(&runtime.device),
                        "auto | cpu | cuda | cuda:i")(
      "threads", value_with_default(&runtime.threads),
      "threads of LibTorch and OpenMP (0: OMP_NUM_THREADS if set, else every core this process "
      "may use; more than that is capped); the BLAS runs on one thread");
}

po::typed_value<int>* thread_override(int* field) {
  return po::value<int>()->notifier([field](int threads) {
    if (threads < 0) throw Error("--threads", "must be >= 0, got " + std::to_string(threads));
    *field = threads;
  });
}

ModelChoice choose_model(const std::string& checkpoint, const std::string& torchscript,
                         const std::string& dataset) {
  if (checkpoint.empty() == torchscript.empty())
    throw Error("--model, --torchscript", "give exactly one of them");
  if (!dataset.empty()) dataset_info(dataset);  // an unknown name fails before any file is read
  if (!torchscript.empty()) {
    if (dataset.empty()) throw Error("--dataset", "is required with --torchscript");
    return {{"torchscript", torchscript}, dataset};
  }
  return {{"checkpoint", checkpoint},
          dataset.empty() ? read_checkpoint_metadata(checkpoint).dataset : dataset};
}

torch::Device apply_runtime_options(const RuntimeOptions& runtime) {
  if (runtime.threads < 0)
    throw Error("--threads", "must be >= 0, got " + std::to_string(runtime.threads));
  const torch::Device device = parse_device(runtime.device);
  const ThreadSettings threads = configure_threads(runtime.threads);
  if (!threads.warning.empty()) say("note: " + threads.warning);
  say("device " + c10::str(device) + ", " + std::to_string(threads.threads) +
      " threads (BLAS: " + threads.blas + ", 1 thread)");
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
    throw Error(std::string(error.what()) + " (see robustscope " + command + " --help)");
  }
  return true;
}

std::vector<std::pair<std::string, std::string>> parse_pairs(const std::vector<std::string>& items,
                                                             const std::string& flag) {
  std::vector<std::pair<std::string, std::string>> pairs;
  std::set<std::string> seen;
  for (const auto& item : items) {
    const size_t equals = item.find('=');
    if (equals == std::string::npos || equals == 0 || equals + 1 == item.size())
      throw Error(flag, "\"" + item + "\" is not key=value");
    const std::string key = item.substr(0, equals);
    if (!seen.insert(key).second) throw Error(flag, "\"" + key + "\" is given twice");
    pairs.emplace_back(key, item.substr(equals + 1));
  }
  return pairs;
}

std::map<std::string, int64_t> parse_integer_pairs(const std::vector<std::string>& items,
                                                   const std::string& flag) {
  std::map<std::string, int64_t> pairs;
  for (const auto& [key, value] : parse_pairs(items, flag))
    pairs[key] = parse_integer(flag + " " + key, value);
  return pairs;
}

}  // namespace robustscope::cli
