// Data sets in [0,1] pixel space and the batch iterator.
#include "core/data/dataset.hpp"

#include <torch/types.h>

#include <cstdlib>
#include <filesystem>

#include "core/data/cifar10.hpp"
#include "core/data/idx.hpp"
#include "core/error.hpp"

namespace robustscope {
namespace fs = std::filesystem;

std::string InputShape::to_string() const {
  return std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width);
}

std::string default_data_dir() {
  const char* from_environment = std::getenv("ROBUSTSCOPE_DATA_DIR");
  return from_environment && *from_environment ? from_environment : "data";
}

DatasetInfo dataset_info(const std::string& name) {
  if (name == "mnist") return {"mnist", {1, 28, 28}, 10, {0.1307}, {0.3081}};
  // Fashion-MNIST's training-set pixel mean and standard deviation.
  if (name == "fmnist") return {"fmnist", {1, 28, 28}, 10, {0.2860}, {0.3530}};
  if (name == "cifar10") {
    return {"cifar10", {3, 32, 32}, 10, {0.4914, 0.4822, 0.4465}, {0.2470, 0.2435, 0.2616}};
  }
  throw Error("dataset", "\"" + name + "\" is unknown (known: mnist, fmnist, cifar10)");
}

Dataset Dataset::slice(int64_t start, int64_t count) const {
  start = std::clamp<int64_t>(start, 0, size());
  const int64_t end = std::clamp<int64_t>(start + count, start, size());
  Dataset part = *this;
  part.images = images.slice(0, start, end);
  part.labels = labels.slice(0, start, end);
  part.first_sample = first_sample + start;
  return part;
}

Dataset make_dataset(const DatasetInfo& info, const std::string& split, const std::string& source,
                     const torch::Tensor& pixels_uint8, const torch::Tensor& labels) {
  const auto expected = info.shape.batch_sizes(pixels_uint8.size(0));
  torch::Tensor pixels = pixels_uint8;
  if (pixels.dim() == 3 && info.shape.channels == 1) pixels = pixels.unsqueeze(1);
  if (pixels.sizes() != torch::IntArrayRef(expected)) {
    throw Error(source, info.name + " images have shape " + c10::str(pixels.sizes()) +
                            ", expected [N, " + info.shape.to_string() + "]");
  }
  if (labels.dim() != 1 || labels.size(0) != pixels.size(0)) {
    throw Error(source, "there are " + std::to_string(pixels.size(0)) + " images but " +
                            std::to_string(labels.numel()) + " labels");
  }
  torch::Tensor labels64 = labels.to(torch::kInt64);
  if (labels64.numel() > 0 && labels64.max().item<int64_t>() >= info.num_classes) {
    throw Error(source, "label " + std::to_string(labels64.max().item<int64_t>()) +
                            " is outside 0.." + std::to_string(info.num_classes - 1));
  }
  return {info, split, source, pixels.to(torch::kFloat32).div_(255.0), labels64, 0};
}

namespace {

void check_split(const std::string& split) {
  if (split != "train" && split != "test") {
    throw Error("split", "\"" + split + "\" is unknown (known: train, test)");
  }
}

// MNIST and Fashion-MNIST: the same four IDX files, uncompressed.
Dataset load_idx_dataset(const DatasetInfo& info, const fs::path& dir, const std::string& split,
                         const std::string& missing_hint) {
  const std::string prefix = split == "train" ? "train" : "t10k";
  const fs::path images_path = dir / (prefix + "-images-idx3-ubyte");
  const fs::path labels_path = dir / (prefix + "-labels-idx1-ubyte");
  for (const auto& path : {images_path, labels_path}) {
    if (!fs::exists(path)) throw Error(path.string(), missing_hint);
  }
  torch::Tensor images = read_idx_images(images_path.string());
  torch::Tensor labels = read_idx_labels(labels_path.string());
  return make_dataset(info, split, images_path.string() + " + " + labels_path.string(), images,
                      labels);
}

Dataset load_cifar10(const DatasetInfo& info, fs::path dir, const std::string& split) {
  if (fs::exists(dir / "cifar-10-batches-bin")) dir /= "cifar-10-batches-bin";
  std::vector<fs::path> files;
  if (split == "train") {
    for (int i = 1; i <= 5; ++i)
      files.push_back(dir / ("data_batch_" + std::to_string(i) + ".bin"));
  } else {
    files.push_back(dir / "test_batch.bin");
  }
  std::vector<torch::Tensor> images, labels;
  std::string source;
  for (const auto& path : files) {
    if (!fs::exists(path)) {
      throw Error(path.string(),
                  "missing CIFAR-10 binary batch (download the binary version and "
                  "extract it into " +
                      dir.string() + ")");
    }
    LabelledImages batch = read_cifar10_batch(path.string());
    images.push_back(batch.images);
    labels.push_back(batch.labels);
    source += (source.empty() ? "" : " + ") + path.string();
  }
  return make_dataset(info, split, source, torch::cat(images), torch::cat(labels));
}

}  // namespace

Dataset load_dataset(const std::string& name, const std::string& data_dir,
                     const std::string& split) {
  const DatasetInfo info = dataset_info(name);
  check_split(split);
  const fs::path dir = fs::path(data_dir) / name;
  if (name == "mnist") {
    return load_idx_dataset(info, dir, split,
                            "missing MNIST file (run scripts/fetch-mnist.sh, or put the official "
                            "IDX files there, uncompressed)");
  }
  if (name == "fmnist") {
    return load_idx_dataset(info, dir, split,
                            "missing Fashion-MNIST file (run scripts/fetch-fmnist.sh: it unpacks "
                            "the Debian package dataset-fashion-mnist)");
  }
  return load_cifar10(info, dir, split);
}

Batches::Batches(const Dataset& data, int64_t batch_size, torch::Device device)
    : data_(data),
      batch_size_(batch_size),
      device_(device),
      order_(torch::arange(data.size(), torch::kInt64)) {
  if (batch_size <= 0)
    throw Error("batch_size", "must be positive, got " + std::to_string(batch_size));
}

Batches::Batches(const Dataset& data, int64_t batch_size, torch::Device device,
                 uint64_t shuffle_seed)
    : Batches(data, batch_size, device) {
  auto generator = at::detail::createCPUGenerator(shuffle_seed);
  order_ = torch::randperm(data.size(), generator, torch::kInt64);
}

Batch Batches::operator[](int64_t index) const {
  const int64_t start = index * batch_size_;
  torch::Tensor indices = order_.slice(0, start, std::min(start + batch_size_, order_.size(0)));
  return {data_.images.index_select(0, indices).to(device_),
          data_.labels.index_select(0, indices).to(device_), indices, indices + data_.first_sample};
}

}  // namespace robustscope
