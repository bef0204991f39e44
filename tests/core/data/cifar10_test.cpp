// CIFAR-10 binary batches, written by the test in the real format.
#include <gtest/gtest.h>
#include <torch/types.h>

#include "core/data/cifar10.hpp"
#include "core/data/dataset.hpp"
#include "support/temp_dir.hpp"
#include "support/tensor_assertions.hpp"

namespace robustscope {
namespace {

using testing::TempDir;

LabelledImages random_records(int64_t count, uint64_t seed) {
  auto generator = at::detail::createCPUGenerator(seed);
  return {torch::randint(0, 256, {count, 3, 32, 32}, generator, torch::kUInt8),
          torch::randint(0, 10, {count}, generator, torch::kInt64)};
}

TEST(Cifar10, RecordLayoutIsLabelThenRedGreenBluePlanes) {
  TempDir dir;
  torch::Tensor images = torch::zeros({1, 3, 32, 32}, torch::kUInt8);
  images[0][0][0][1] = 11;    // red, row 0, column 1
  images[0][1][2][0] = 22;    // green, row 2, column 0
  images[0][2][31][31] = 33;  // blue, last pixel
  write_cifar10_batch(dir.file("b.bin"), images, torch::tensor({7}, torch::kInt64));
  const std::string bytes = testing::read_file(dir.file("b.bin"));
  ASSERT_EQ(bytes.size(), 3073u);
  EXPECT_EQ(bytes[0], 7);
  EXPECT_EQ(bytes[1 + 1], 11);
  EXPECT_EQ(bytes[1 + 1024 + 2 * 32], 22);
  EXPECT_EQ(static_cast<unsigned char>(bytes[3072]), 33);
  const LabelledImages read = read_cifar10_batch(dir.file("b.bin"));
  EXPECT_TENSORS_EQUAL(read.images, images);
}

TEST(Cifar10, BatchRoundTripsExactly) {
  TempDir dir;
  const LabelledImages records = random_records(20, 1);
  write_cifar10_batch(dir.file("data_batch_1.bin"), records.images, records.labels);
  const LabelledImages read = read_cifar10_batch(dir.file("data_batch_1.bin"));
  EXPECT_TENSORS_EQUAL(read.images, records.images);
  EXPECT_TENSORS_EQUAL(read.labels, records.labels);
}

TEST(Cifar10, TruncatedBatchIsRejected) {
  TempDir dir;
  const LabelledImages records = random_records(3, 2);
  write_cifar10_batch(dir.file("b.bin"), records.images, records.labels);
  const std::string bytes = testing::read_file(dir.file("b.bin"));
  testing::write_file(dir.file("b.bin"), bytes.substr(0, bytes.size() - 1));
  EXPECT_ERROR_CONTAINING(read_cifar10_batch(dir.file("b.bin")),
                          "9218 bytes is not a whole number of 3073-byte records");
}

TEST(Cifar10, ForeignFilesAreRejected) {
  TempDir dir;
  testing::write_file(dir.file("empty.bin"), "");
  EXPECT_ERROR_CONTAINING(read_cifar10_batch(dir.file("empty.bin")), "empty CIFAR-10 batch file");
  // The right length, but a label byte of 200: not CIFAR-10.
  testing::write_file(dir.file("foreign.bin"), std::string(3073, '\xc8'));
  EXPECT_ERROR_CONTAINING(read_cifar10_batch(dir.file("foreign.bin")), "record 0 has label 200");
}

TEST(Cifar10, LoadDatasetReadsFiveTrainingBatchesAndTheTestBatch) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "cifar10" / "cifar-10-batches-bin");
  const std::string folder = (dir.path() / "cifar10" / "cifar-10-batches-bin").string();
  std::vector<LabelledImages> parts;
  for (int i = 1; i <= 5; ++i) {
    parts.push_back(random_records(4, 10 + i));
    write_cifar10_batch(folder + "/data_batch_" + std::to_string(i) + ".bin", parts.back().images,
                        parts.back().labels);
  }
  const LabelledImages test_part = random_records(6, 99);
  write_cifar10_batch(folder + "/test_batch.bin", test_part.images, test_part.labels);

  const Dataset train = load_dataset("cifar10", dir.path().string(), "train");
  ASSERT_EQ(train.size(), 20);
  EXPECT_EQ(train.images.sizes(), torch::IntArrayRef({20, 3, 32, 32}));
  EXPECT_TENSORS_CLOSE(train.images[8], parts[2].images[0].to(torch::kFloat32) / 255.0, 1e-8, 1e-5);
  EXPECT_EQ(train.labels[19].item<int64_t>(), parts[4].labels[3].item<int64_t>());
  const Dataset test = load_dataset("cifar10", dir.path().string(), "test");
  EXPECT_EQ(test.size(), 6);
  EXPECT_LE(test.images.max().item<float>(), 1.0f);
  EXPECT_GE(test.images.min().item<float>(), 0.0f);
}

TEST(Cifar10, MissingBatchIsNamed) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "cifar10");
  EXPECT_ERROR_CONTAINING(load_dataset("cifar10", dir.path().string(), "test"), "test_batch.bin");
}

}  // namespace
}  // namespace robustscope
