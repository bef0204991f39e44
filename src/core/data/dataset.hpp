// Image classification data sets in [0,1] pixel space, and the one batch iterator over them.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace robustscope {

struct InputShape {
  int64_t channels = 1;
  int64_t height = 28;
  int64_t width = 28;

  std::vector<int64_t> batch_sizes(int64_t batch) const { return {batch, channels, height, width}; }
  std::string to_string() const;                                  // "1x28x28"
  int64_t elements() const { return channels * height * width; }  // d, the input dimension
  bool operator==(const InputShape& other) const {
    return channels == other.channels && height == other.height && width == other.width;
  }
};

// What a data set is, independent of which split is loaded: shape, classes, the per-channel
// statistics that a model folds into its first layer.
struct DatasetInfo {
  std::string name;  // "mnist" or "cifar10"
  InputShape shape;
  int64_t num_classes = 10;
  std::vector<double> mean;
  std::vector<double> stddev;
};

// The data folder when neither a spec nor a flag names one: $ROBUSTSCOPE_DATA_DIR, else "data".
std::string default_data_dir();

// Known data sets: mnist, fmnist, cifar10. Throws Error listing the known names otherwise.
DatasetInfo dataset_info(const std::string& name);

struct Dataset {
  DatasetInfo info;
  std::string split;         // "train" or "test"
  std::string source;        // the files it was read from
  torch::Tensor images;      // float32 [N, C, H, W], values in [0,1]
  torch::Tensor labels;      // int64 [N], values in [0, num_classes)
  int64_t first_sample = 0;  // position of sample 0 in the full split (slices keep sample ids)

  int64_t size() const { return labels.size(0); }
  // Samples [start, start + count), clamped to the data set.
  Dataset slice(int64_t start, int64_t count) const;
};

// Loads a split from `data_dir`:
//   mnist:   data_dir/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte
//   cifar10: data_dir/cifar10/{data_batch_1..5,test_batch}.bin (or the extracted
//            data_dir/cifar10/cifar-10-batches-bin/ folder)
// Missing or malformed files throw Error naming the file.
Dataset load_dataset(const std::string& name, const std::string& data_dir,
                     const std::string& split);

// Builds a Dataset from uint8 pixels, checking shapes and label range; `source` names the origin.
Dataset make_dataset(const DatasetInfo& info, const std::string& split, const std::string& source,
                     const torch::Tensor& pixels_uint8, const torch::Tensor& labels);

struct Batch {
  torch::Tensor images;      // on the requested device
  torch::Tensor labels;      // on the requested device
  torch::Tensor indices;     // positions in this data set (CPU, int64)
  torch::Tensor sample_ids;  // positions in the full split: seeds per-sample randomness (CPU)
};

// The batch iterator every loop uses (training, evaluation, attacks, landscapes): batches of
// `batch_size` in data-set order, or in a permutation drawn from `shuffle_seed`.
class Batches {
 public:
  Batches(const Dataset& data, int64_t batch_size, torch::Device device);
  Batches(const Dataset& data, int64_t batch_size, torch::Device device, uint64_t shuffle_seed);

  int64_t count() const { return (order_.size(0) + batch_size_ - 1) / batch_size_; }
  Batch operator[](int64_t index) const;

 private:
  const Dataset& data_;
  int64_t batch_size_;
  torch::Device device_;
  torch::Tensor order_;
};

}  // namespace robustscope
