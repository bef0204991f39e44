// Removes a folder with std::filesystem::remove_all: exit 0 when the call reached libstdc++'s
// function, an abort when it bound to the poisoned copy linked ahead of libstdc++.
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

#include <unistd.h>

int main() {
  const std::filesystem::path folder = std::filesystem::temp_directory_path() /
                                       ("robustscope-link-order-" + std::to_string(getpid()));
  std::filesystem::create_directories(folder / "inside");
  std::error_code error;
  const auto removed = std::filesystem::remove_all(folder, error);
  std::printf("removed %ju entries\n", static_cast<uintmax_t>(removed));
  return removed == 2 && !error ? 0 : 1;
}
