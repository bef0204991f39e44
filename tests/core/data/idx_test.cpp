// MNIST IDX reader: round trip and every way a file can be wrong.
#include <gtest/gtest.h>
#include <torch/types.h>

#include "core/data/idx.hpp"
#include "support/temp_dir.hpp"
#include "support/tensor_assertions.hpp"

namespace robustscope {
namespace {

using testing::TempDir;

torch::Tensor random_bytes(std::vector<int64_t> sizes, uint64_t seed) {
  auto generator = at::detail::createCPUGenerator(seed);
  return torch::randint(0, 256, sizes, generator, torch::kUInt8);
}

TEST(Idx, ImagesAndLabelsRoundTripExactly) {
  TempDir dir;
  const torch::Tensor images = random_bytes({7, 28, 28}, 1);
  const torch::Tensor labels = random_bytes({7}, 2).remainder(10);
  write_idx_images(dir.file("images"), images);
  write_idx_labels(dir.file("labels"), labels);
  EXPECT_TENSORS_EQUAL(read_idx_images(dir.file("images")), images);
  EXPECT_TENSORS_EQUAL(read_idx_labels(dir.file("labels")), labels);
}

TEST(Idx, HeaderIsBigEndianAsInTheOfficialFiles) {
  TempDir dir;
  write_idx_images(dir.file("images"), random_bytes({3, 28, 28}, 3));
  const std::string bytes = testing::read_file(dir.file("images"));
  ASSERT_EQ(bytes.size(), 16u + 3 * 28 * 28);
  EXPECT_EQ(bytes.substr(0, 4), std::string("\x00\x00\x08\x03", 4));
  EXPECT_EQ(bytes.substr(4, 4), std::string("\x00\x00\x00\x03", 4));
  EXPECT_EQ(bytes.substr(8, 4), std::string("\x00\x00\x00\x1c", 4));
}

TEST(Idx, TruncatedPayloadIsRejectedWithSizes) {
  TempDir dir;
  write_idx_images(dir.file("images"), random_bytes({4, 28, 28}, 4));
  std::string bytes = testing::read_file(dir.file("images"));
  testing::write_file(dir.file("images"), bytes.substr(0, bytes.size() - 100));
  EXPECT_ERROR_CONTAINING(read_idx_images(dir.file("images")), "truncated IDX image file");
  EXPECT_ERROR_CONTAINING(read_idx_images(dir.file("images")), dir.file("images"));
}

TEST(Idx, TruncatedHeaderIsRejected) {
  TempDir dir;
  testing::write_file(dir.file("labels"), std::string("\x00\x00\x08", 3));
  EXPECT_ERROR_CONTAINING(read_idx_labels(dir.file("labels")), "shorter than its 8-byte header");
}

TEST(Idx, WrongMagicIsRejected) {
  TempDir dir;
  write_idx_labels(dir.file("labels"), random_bytes({50}, 5));
  // A label file read as images, and a text file read as labels.
  EXPECT_ERROR_CONTAINING(read_idx_images(dir.file("labels")),
                          "magic number 0x00000801, expected 0x00000803");
  testing::write_file(dir.file("text"), "hello, this is not an IDX file");
  EXPECT_ERROR_CONTAINING(read_idx_labels(dir.file("text")), "not an IDX label file");
}

TEST(Idx, TrailingBytesAreRejected) {
  TempDir dir;
  write_idx_labels(dir.file("labels"), random_bytes({5}, 6));
  testing::write_file(dir.file("labels"), testing::read_file(dir.file("labels")) + "xyz");
  EXPECT_ERROR_CONTAINING(read_idx_labels(dir.file("labels")), "3 bytes beyond");
}

TEST(Idx, ZeroOrHugeDimensionIsRejected) {
  TempDir dir;
  testing::write_file(dir.file("zero"), std::string("\x00\x00\x08\x01\x00\x00\x00\x00", 8));
  EXPECT_ERROR_CONTAINING(read_idx_labels(dir.file("zero")), "dimension 0 is 0");
  testing::write_file(dir.file("huge"), std::string("\x00\x00\x08\x01\xff\xff\xff\xff", 8));
  EXPECT_ERROR_CONTAINING(read_idx_labels(dir.file("huge")), "dimension 0 is 4294967295");
}

TEST(Idx, MissingFileIsNamed) {
  EXPECT_ERROR_CONTAINING(read_idx_images("/nonexistent/train-images-idx3-ubyte"),
                          "/nonexistent/train-images-idx3-ubyte: cannot open");
}

}  // namespace
}  // namespace robustscope
