// FNV-1a and SplitMix64.
#include "core/runtime/hashing.hpp"

#include <cstdio>
#include <fstream>
#include <vector>

#include "core/error.hpp"

namespace robustscope {

void Fnv1a::add(const void* data, size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) hash_ = (hash_ ^ bytes[i]) * 1099511628211ULL;
}

void Fnv1a::add_text(const std::string& text) {
  add(text.data(), text.size());
  add("\0", 1);
}

std::string Fnv1a::hex() const {
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(hash_));
  return text;
}

uint64_t fnv1a(const std::string& bytes) {
  Fnv1a hash;
  hash.add(bytes.data(), bytes.size());
  return hash.value();
}

std::string fnv1a_hex(const std::string& bytes) {
  Fnv1a hash;
  hash.add(bytes.data(), bytes.size());
  return hash.hex();
}

uint64_t splitmix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::string file_hash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot be read (does it exist?)");
  Fnv1a hash;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    hash.add(buffer.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw Error(path, "read failed");
  return hash.hex();
}

}  // namespace robustscope
