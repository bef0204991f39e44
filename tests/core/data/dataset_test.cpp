// Data sets and the batch iterator.
#include <gtest/gtest.h>
#include <torch/types.h>

#include "core/data/dataset.hpp"
#include "core/data/idx.hpp"
#include "support/temp_dir.hpp"
#include "support/tensor_assertions.hpp"

namespace robustscope {
namespace {

using testing::TempDir;

Dataset small_mnist(int64_t count) {
  auto generator = at::detail::createCPUGenerator(7);
  return make_dataset(dataset_info("mnist"), "test", "memory",
                      torch::randint(0, 256, {count, 28, 28}, generator, torch::kUInt8),
                      torch::arange(count) % 10);
}

TEST(Dataset, MnistFilesLoadAsUnitIntervalImages) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "mnist");
  const torch::Tensor pixels = torch::tensor({0, 255, 51}, torch::kUInt8)
                                   .repeat({2 * 28 * 28 / 3 + 1})
                                   .narrow(0, 0, 2 * 28 * 28)
                                   .reshape({2, 28, 28});
  write_idx_images(dir.file("mnist/t10k-images-idx3-ubyte"), pixels);
  write_idx_labels(dir.file("mnist/t10k-labels-idx1-ubyte"), torch::tensor({3, 9}, torch::kUInt8));
  const Dataset data = load_dataset("mnist", dir.path().string(), "test");
  EXPECT_EQ(data.images.sizes(), torch::IntArrayRef({2, 1, 28, 28}));
  EXPECT_FLOAT_EQ(data.images[0][0][0][1].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(data.images[0][0][0][2].item<float>(), 0.2f);
  EXPECT_EQ(data.labels[1].item<int64_t>(), 9);
}

TEST(Dataset, ImageAndLabelCountsMustAgree) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "mnist");
  write_idx_images(dir.file("mnist/t10k-images-idx3-ubyte"),
                   torch::zeros({3, 28, 28}, torch::kUInt8));
  write_idx_labels(dir.file("mnist/t10k-labels-idx1-ubyte"), torch::zeros({2}, torch::kUInt8));
  EXPECT_ERROR_CONTAINING(load_dataset("mnist", dir.path().string(), "test"),
                          "there are 3 images but 2 labels");
}

TEST(Dataset, WrongImageSizeAndLabelRangeAreRejected) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "mnist");
  write_idx_images(dir.file("mnist/train-images-idx3-ubyte"),
                   torch::zeros({2, 32, 32}, torch::kUInt8));
  write_idx_labels(dir.file("mnist/train-labels-idx1-ubyte"), torch::zeros({2}, torch::kUInt8));
  EXPECT_ERROR_CONTAINING(load_dataset("mnist", dir.path().string(), "train"),
                          "expected [N, 1x28x28]");
  write_idx_images(dir.file("mnist/train-images-idx3-ubyte"),
                   torch::zeros({2, 28, 28}, torch::kUInt8));
  write_idx_labels(dir.file("mnist/train-labels-idx1-ubyte"),
                   torch::tensor({1, 12}, torch::kUInt8));
  EXPECT_ERROR_CONTAINING(load_dataset("mnist", dir.path().string(), "train"),
                          "label 12 is outside 0..9");
}

TEST(Dataset, UnknownNamesAndMissingFilesAreNamed) {
  EXPECT_ERROR_CONTAINING(load_dataset("imagenet", "/tmp", "test"),
                          "\"imagenet\" is unknown (known: mnist, fmnist, cifar10)");
  EXPECT_ERROR_CONTAINING(load_dataset("mnist", "/tmp", "validation"), "\"validation\" is unknown");
  TempDir dir;
  EXPECT_ERROR_CONTAINING(load_dataset("mnist", dir.path().string(), "train"),
                          "train-images-idx3-ubyte: missing MNIST file");
  EXPECT_ERROR_CONTAINING(load_dataset("fmnist", dir.path().string(), "test"),
                          "t10k-images-idx3-ubyte: missing Fashion-MNIST file (run "
                          "scripts/fetch-fmnist.sh");
}

TEST(Dataset, FashionMnistIsTheFullSetWithTheStatisticsItIsNormalisedBy) {
  // scripts/fetch-fmnist.sh (run by scripts/test.sh) unpacks the Debian package into the data dir.
  const Dataset train = load_dataset("fmnist", testing::data_dir(), "train");
  const Dataset test = load_dataset("fmnist", testing::data_dir(), "test");
  EXPECT_EQ(train.images.sizes(), torch::IntArrayRef({60000, 1, 28, 28}));
  EXPECT_EQ(test.images.sizes(), torch::IntArrayRef({10000, 1, 28, 28}));
  // Balanced classes: 6,000 and 1,000 of each.
  EXPECT_TENSORS_EQUAL(torch::bincount(train.labels), torch::full({10}, 6000, torch::kInt64));
  EXPECT_TENSORS_EQUAL(torch::bincount(test.labels), torch::full({10}, 1000, torch::kInt64));
  // The normalisation constants are the training set's own mean and standard deviation.
  const DatasetInfo info = dataset_info("fmnist");
  EXPECT_NEAR(train.images.mean().item<double>(), info.mean[0], 5e-4);
  EXPECT_NEAR(train.images.std().item<double>(), info.stddev[0], 5e-4);
}

TEST(Batches, CoverEverySampleOnceInOrder) {
  const Dataset data = small_mnist(10);
  const Batches batches(data, 4, torch::kCPU);
  ASSERT_EQ(batches.count(), 3);
  EXPECT_EQ(batches[2].labels.size(0), 2);
  torch::Tensor seen = torch::cat({batches[0].indices, batches[1].indices, batches[2].indices});
  EXPECT_TENSORS_EQUAL(seen, torch::arange(10));
  EXPECT_TENSORS_EQUAL(batches[1].images, data.images.slice(0, 4, 8));
}

TEST(Batches, ShuffleIsAPermutationFixedByTheSeed) {
  const Dataset data = small_mnist(50);
  const Batches first(data, 16, torch::kCPU, 123), again(data, 16, torch::kCPU, 123),
      other(data, 16, torch::kCPU, 124);
  torch::Tensor order =
      torch::cat({first[0].indices, first[1].indices, first[2].indices, first[3].indices});
  EXPECT_TENSORS_EQUAL(std::get<0>(order.sort()), torch::arange(50));
  EXPECT_FALSE(torch::equal(order, torch::arange(50)));
  EXPECT_TENSORS_EQUAL(first[1].indices, again[1].indices);
  EXPECT_FALSE(torch::equal(first[0].indices, other[0].indices));
  EXPECT_TENSORS_EQUAL(first[2].labels, data.labels.index_select(0, first[2].indices));
}

}  // namespace
}  // namespace robustscope
