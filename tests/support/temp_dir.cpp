// Test helpers.
#include "support/temp_dir.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

namespace robustscope::testing {

TempDir::TempDir() {
  std::random_device entropy;
  path_ = std::filesystem::temp_directory_path() /
          ("robustscope-test-" + std::to_string(entropy()) + std::to_string(entropy()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string data_dir() {
  const char* from_environment = std::getenv("ROBUSTSCOPE_DATA_DIR");
  return from_environment ? from_environment : std::string(ROBUSTSCOPE_SOURCE_DIR) + "/data";
}

std::string python() { return ROBUSTSCOPE_PYTHON; }

CommandResult run_command(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::string output;
  std::array<char, 4096> buffer{};
  size_t read = 0;
  while ((read = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    output.append(buffer.data(), read);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

std::string read_output_until(const std::string& command, const std::vector<std::string>& wanted) {
  int ends[2];
  if (pipe(ends) != 0) return "pipe failed";
  const pid_t child = fork();
  if (child == 0) {
    dup2(ends[1], 1);
    dup2(ends[1], 2);
    close(ends[0]);
    close(ends[1]);
    execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), nullptr);
    _exit(127);
  }
  close(ends[1]);
  std::string output;
  const auto all_arrived = [&] {
    return std::all_of(wanted.begin(), wanted.end(), [&](const std::string& text) {
      return output.find(text) != std::string::npos;
    });
  };
  std::array<char, 4096> buffer{};
  ssize_t read_bytes = 0;
  while (!all_arrived() && (read_bytes = read(ends[0], buffer.data(), buffer.size())) > 0)
    output.append(buffer.data(), static_cast<size_t>(read_bytes));
  kill(child, SIGKILL);
  close(ends[0]);
  waitpid(child, nullptr, 0);
  return output;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

}  // namespace robustscope::testing
