// Test helpers: a temporary folder removed at scope exit, error-message checks, paths, commands.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace robustscope::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The MNIST split made by scripts/fetch-mnist.sh (ROBUSTSCOPE_DATA_DIR or <source>/data).
std::string data_dir();

// The Python with torch found at configure time; empty when there is none.
std::string python();

struct CommandResult {
  int exit_code;
  std::string output;  // stdout and stderr together
};
CommandResult run_command(const std::string& command);
// Starts `command` with its stdout and stderr on a pipe, reads until every text of `wanted` has
// arrived (or the command has ended), then kills it: waits for what it prints, never for a fixed
// time. Returns what was read.
std::string read_output_until(const std::string& command, const std::vector<std::string>& wanted);

// Bytes of a file, and writing bytes back (to corrupt files in tests).
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);

}  // namespace robustscope::testing

// Expects `statement` to throw robustscope::Error whose message contains `fragment`.
#define EXPECT_ERROR_CONTAINING(statement, fragment)                                      \
  do {                                                                                    \
    try {                                                                                 \
      statement;                                                                          \
      ADD_FAILURE() << "expected robustscope::Error containing \"" << (fragment) << "\""; \
    } catch (const robustscope::Error& error) {                                           \
      EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos)              \
          << "message: " << error.what();                                                 \
    }                                                                                     \
  } while (0)
