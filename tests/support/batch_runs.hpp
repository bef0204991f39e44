// Helpers of the end-to-end tests of the batch engine: launching the CLI on N ranks, small
// checkpoints, comparing two results files, finding processes by their command line.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

namespace robustscope::testing {

// "mpirun … -np N " for N ranks (as root in CI containers, oversubscribing the cores); "" for 1.
std::string launcher(int ranks);

// `robustscope <arguments>` on `ranks` ranks.
CommandResult robustscope(const std::string& arguments, int ranks = 1);

// A checkpoint of an MLP on MNIST with weights drawn from `seed` (NaN weights when `poisoned`).
void save_mlp(const std::string& path, uint64_t seed, int64_t hidden = 32, int64_t layers = 1,
              bool poisoned = false);

// Every task's datasets bit for bit and its settings equal; where and how long it ran may differ.
void expect_same_results(const std::string& a, const std::string& b);

// Processes (other than this one) whose command line contains `text`.
std::vector<pid_t> processes_mentioning(const std::string& text);

// Files with extension `extension` directly in `folder`.
int64_t count_files(const std::string& folder, const std::string& extension);

}  // namespace robustscope::testing
