// robustscope: dispatches to a subcommand and turns every error into a message and a non-zero exit.
#include <c10/util/Exception.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/runtime/host_memory.hpp"
#include "core/version.hpp"
#include "engine/records/hdf5_file.hpp"

namespace {

struct Command {
  int (*run)(const robustscope::cli::Arguments&);
  const char* summary;
};

const std::map<std::string, Command>& commands() {
  static const std::map<std::string, Command> kCommands = {
      {"train", {robustscope::cli::train_command, "train a built-in architecture"}},
      {"eval", {robustscope::cli::eval_command, "evaluate a model on a data set"}},
      {"info", {robustscope::cli::info_command, "print a checkpoint's metadata"}},
      {"landscape", {robustscope::cli::landscape_command, "loss and decision surfaces into HDF5"}},
      {"plan", {robustscope::cli::plan_command, "expand an experiment spec into tasks and costs"}},
      {"prepare", {robustscope::cli::prepare_command, "train a spec's missing models"}},
      {"run", {robustscope::cli::run_command, "run a spec's tasks over MPI ranks, resuming"}},
      {"inspect", {robustscope::cli::inspect_command, "print what a results file holds"}},
      {"merge", {robustscope::cli::merge_command, "assemble a results file from its task folder"}}};
  return kCommands;
}

void print_usage(std::ostream& out) {
  out << "usage: robustscope <command> [options]   (robustscope <command> --help)\n"
         "       robustscope --version\n\ncommands:\n";
  for (const auto& [name, command] : commands())
    out << "  " << name << "\t" << command.summary << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  // Progress lines reach a pipe, a log file or SLURM's output at once.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // A full disk or a file-size limit makes writes fail with an error we report, not kill us.
  std::signal(SIGXFSZ, SIG_IGN);
  if (argc >= 2 && std::string(argv[1]) == "--version") {
    std::cout << "robustscope " << robustscope::code_version() << " (LibTorch "
              << robustscope::libtorch_version() << ", HDF5 " << robustscope::hdf5_version()
              << ")\n";
    return 0;
  }
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    print_usage(argc < 2 ? std::cerr : std::cout);
    return argc < 2 ? 2 : 0;
  }
  const auto command = commands().find(argv[1]);
  if (command == commands().end()) {
    std::cerr << "robustscope: command \"" << argv[1] << "\" is unknown\n";
    print_usage(std::cerr);
    return 2;
  }
  try {
    robustscope::apply_host_memory_settings(robustscope::host_memory_settings_from_environment());
    return command->second.run(robustscope::cli::Arguments(argv + 2, argv + argc));
  } catch (const robustscope::Error& error) {
    std::cerr << "robustscope " << argv[1] << ": error: " << error.what() << "\n";
  } catch (const c10::Error& error) {
    std::cerr << "robustscope " << argv[1] << ": LibTorch error: " << error.what_without_backtrace()
              << "\n";
  } catch (const std::exception& error) {
    std::cerr << "robustscope " << argv[1] << ": error: " << error.what() << "\n";
  }
  return 1;
}
