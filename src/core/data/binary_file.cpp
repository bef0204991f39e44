// Whole-file reads and writes with errors that name the file.
#include "core/data/binary_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/error.hpp"

namespace robustscope {

std::vector<std::uint8_t> read_binary_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(path, std::string("cannot open for reading: ") + std::strerror(errno));
  const std::streamsize size = in.tellg();
  if (size < 0) throw Error(path, "cannot determine the file size");
  std::vector<std::uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) {
    throw Error(path, "read failed");
  }
  return bytes;
}

void write_binary_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(path, std::string("cannot open for writing: ") + std::strerror(errno));
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw Error(path, "write failed");
}

}  // namespace robustscope
