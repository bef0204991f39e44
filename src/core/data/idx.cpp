// MNIST IDX reader and writer.
#include "core/data/idx.hpp"

#include <torch/types.h>

#include <cstring>

#include "core/data/binary_file.hpp"
#include "core/error.hpp"

namespace robustscope {
namespace {

// Magic numbers: two zero bytes, the type code 0x08 (unsigned byte), then the number of dimensions.
constexpr std::uint32_t kImagesMagic = 0x00000803;
constexpr std::uint32_t kLabelsMagic = 0x00000801;
// A dimension beyond this is a corrupt header, not a data set (keeps products far from overflow).
constexpr std::uint32_t kMaxDimension = 1u << 28;

std::uint32_t read_big_endian(const std::vector<std::uint8_t>& bytes, size_t offset) {
  return (std::uint32_t{bytes[offset]} << 24) | (std::uint32_t{bytes[offset + 1]} << 16) |
         (std::uint32_t{bytes[offset + 2]} << 8) | std::uint32_t{bytes[offset + 3]};
}

void append_big_endian(std::vector<std::uint8_t>& bytes, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back((value >> shift) & 0xff);
}

std::string hex(std::uint32_t value) {
  char text[11];
  std::snprintf(text, sizeof(text), "0x%08x", value);
  return text;
}

// Validates the header and the length; returns the dimensions.
std::vector<int64_t> parse_idx(const std::string& path, const std::vector<std::uint8_t>& bytes,
                               std::uint32_t expected_magic, const char* kind) {
  const size_t num_dims = expected_magic & 0xff;
  const size_t header_size = 4 + 4 * num_dims;
  if (bytes.size() < header_size) {
    throw Error(path, "truncated IDX " + std::string(kind) +
                          " file: " + std::to_string(bytes.size()) + " bytes, shorter than its " +
                          std::to_string(header_size) + "-byte header");
  }
  const std::uint32_t magic = read_big_endian(bytes, 0);
  if (magic != expected_magic) {
    throw Error(path, "not an IDX " + std::string(kind) + " file: magic number " + hex(magic) +
                          ", expected " + hex(expected_magic));
  }
  std::vector<int64_t> dims;
  std::uint64_t payload = 1;
  for (size_t d = 0; d < num_dims; ++d) {
    const std::uint32_t dim = read_big_endian(bytes, 4 + 4 * d);
    if (dim == 0 || dim > kMaxDimension) {
      throw Error(path, "IDX dimension " + std::to_string(d) + " is " + std::to_string(dim) +
                            ", outside 1.." + std::to_string(kMaxDimension));
    }
    dims.push_back(dim);
    payload *= dim;
  }
  const std::uint64_t expected_size = header_size + payload;
  if (bytes.size() < expected_size) {
    throw Error(path, "truncated IDX " + std::string(kind) + " file: header announces " +
                          std::to_string(expected_size) + " bytes, the file has " +
                          std::to_string(bytes.size()));
  }
  if (bytes.size() > expected_size) {
    throw Error(path, "IDX " + std::string(kind) + " file has " +
                          std::to_string(bytes.size() - expected_size) +
                          " bytes beyond what its header announces");
  }
  return dims;
}

torch::Tensor read_idx(const std::string& path, std::uint32_t magic, const char* kind) {
  const std::vector<std::uint8_t> bytes = read_binary_file(path);
  const std::vector<int64_t> dims = parse_idx(path, bytes, magic, kind);
  const size_t header_size = 4 + 4 * dims.size();
  torch::Tensor out = torch::empty(dims, torch::kUInt8);
  std::memcpy(out.data_ptr<std::uint8_t>(), bytes.data() + header_size, out.numel());
  return out;
}

void write_idx(const std::string& path, const torch::Tensor& data, std::uint32_t magic) {
  const torch::Tensor contiguous = data.to(torch::kUInt8).contiguous();
  if (static_cast<std::uint32_t>(contiguous.dim()) != (magic & 0xff)) {
    throw Error(path, "cannot write a " + std::to_string(contiguous.dim()) +
                          "-dimensional tensor as IDX with magic " + hex(magic));
  }
  std::vector<std::uint8_t> bytes;
  append_big_endian(bytes, magic);
  for (int64_t size : contiguous.sizes())
    append_big_endian(bytes, static_cast<std::uint32_t>(size));
  const auto* begin = contiguous.data_ptr<std::uint8_t>();
  bytes.insert(bytes.end(), begin, begin + contiguous.numel());
  write_binary_file(path, bytes);
}

}  // namespace

torch::Tensor read_idx_images(const std::string& path) {
  return read_idx(path, kImagesMagic, "image");
}

torch::Tensor read_idx_labels(const std::string& path) {
  return read_idx(path, kLabelsMagic, "label");
}

void write_idx_images(const std::string& path, const torch::Tensor& images) {
  write_idx(path, images, kImagesMagic);
}

void write_idx_labels(const std::string& path, const torch::Tensor& labels) {
  write_idx(path, labels, kLabelsMagic);
}

}  // namespace robustscope
