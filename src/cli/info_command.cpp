// robustscope info: a checkpoint's metadata, one key=value per line.
#include <iostream>

#include "cli/command_options.hpp"
#include "core/models/checkpoint.hpp"

namespace robustscope::cli {

int info_command(const Arguments& arguments) {
  std::string checkpoint;
  po::options_description options("info options");
  options.add_options()("model", po::value(&checkpoint)->required(),
                        "robustscope checkpoint (also as the operand)");
  if (!parse_command("info", "Prints a checkpoint's metadata.", options, arguments, {"model"}))
    return 0;
  for (const auto& [key, value] : read_checkpoint_metadata(checkpoint).to_entries()) {
    std::cout << key << "=" << value << "\n";
  }
  return 0;
}

}  // namespace robustscope::cli
