// MNIST IDX files (LeCun's format): a big-endian header, then unsigned bytes.
#pragma once

#include <torch/types.h>

#include <string>

namespace robustscope {

// Reads an idx3-ubyte image file: uint8 tensor [N, rows, cols]. Any deviation from the format
// (wrong magic, impossible dimensions, a file shorter or longer than its header says) throws Error
// naming the file and what was wrong.
torch::Tensor read_idx_images(const std::string& path);

// Reads an idx1-ubyte label file: uint8 tensor [N].
torch::Tensor read_idx_labels(const std::string& path);

// Writers for the same formats (used by tests and by tools that convert data).
void write_idx_images(const std::string& path,
                      const torch::Tensor& images);  // uint8 [N, rows, cols]
void write_idx_labels(const std::string& path, const torch::Tensor& labels);  // uint8 [N]

}  // namespace robustscope
