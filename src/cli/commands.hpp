// The subcommands of the robustscope executable. Each parses its own options and returns the exit
// code.
#pragma once

#include <string>
#include <vector>

namespace robustscope::cli {

using Arguments = std::vector<std::string>;  // the arguments after the command name

int train_command(const Arguments& arguments);
int eval_command(const Arguments& arguments);
int info_command(const Arguments& arguments);
int landscape_command(const Arguments& arguments);
int plan_command(const Arguments& arguments);
int prepare_command(const Arguments& arguments);
int run_command(const Arguments& arguments);
int inspect_command(const Arguments& arguments);
int merge_command(const Arguments& arguments);

}  // namespace robustscope::cli
