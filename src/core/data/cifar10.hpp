// CIFAR-10 binary batches (data_batch_1.bin … test_batch.bin): records of 1 label byte followed by
// 3072 pixel bytes (32×32 red, then green, then blue, row-major).
#pragma once

#include <torch/types.h>

#include <string>

namespace robustscope {

constexpr int64_t kCifar10RecordBytes = 1 + 3 * 32 * 32;

struct LabelledImages {
  torch::Tensor images;  // uint8 [N, C, H, W]
  torch::Tensor labels;  // int64 [N]
};

// Reads one CIFAR-10 binary batch. A length that is not a whole number of records, an empty file or
// a label outside 0..9 throws Error naming the file and the record.
LabelledImages read_cifar10_batch(const std::string& path);

// Writes records in the same format (tests and converters). images uint8 [N, 3, 32, 32].
void write_cifar10_batch(const std::string& path, const torch::Tensor& images,
                         const torch::Tensor& labels);

}  // namespace robustscope
