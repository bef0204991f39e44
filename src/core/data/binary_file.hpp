// Whole-file reads and writes with errors that name the file; shared by the IDX and CIFAR readers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace robustscope {

std::vector<std::uint8_t> read_binary_file(const std::string& path);
void write_binary_file(const std::string& path, const std::vector<std::uint8_t>& bytes);

}  // namespace robustscope
