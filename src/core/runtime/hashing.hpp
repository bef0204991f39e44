// The two hashes robustscope uses everywhere: FNV-1a 64 (content checksums, task ids, model hashes)
// and SplitMix64 (seed derivation: nearby inputs give unrelated streams).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace robustscope {

// FNV-1a 64 (Fowler, Noll, Vo), fed in pieces.
class Fnv1a {
 public:
  void add(const void* data, size_t size);
  // Text followed by a NUL, so ("ab","c") and ("a","bc") hash apart.
  void add_text(const std::string& text);
  uint64_t value() const { return hash_; }
  std::string hex() const;  // 16 hex digits

 private:
  uint64_t hash_ = 14695981039346656037ULL;
};

uint64_t fnv1a(const std::string& bytes);
std::string fnv1a_hex(const std::string& bytes);

// SplitMix64's output function (Steele, Lea, Flood 2014): a bijective mix of 64 bits.
uint64_t splitmix64(uint64_t value);

// FNV-1a 64 of a whole file's bytes, as 16 hex digits; Error naming the file when unreadable.
std::string file_hash(const std::string& path);

}  // namespace robustscope
