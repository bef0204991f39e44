// CIFAR-10 binary batch reader and writer.
#include "core/data/cifar10.hpp"

#include <torch/types.h>

#include "core/data/binary_file.hpp"
#include "core/error.hpp"

namespace robustscope {

LabelledImages read_cifar10_batch(const std::string& path) {
  const std::vector<std::uint8_t> bytes = read_binary_file(path);
  const auto size = static_cast<int64_t>(bytes.size());
  if (size == 0) throw Error(path, "empty CIFAR-10 batch file");
  if (size % kCifar10RecordBytes != 0) {
    throw Error(path, "not a CIFAR-10 binary batch: " + std::to_string(size) +
                          " bytes is not a whole number of " + std::to_string(kCifar10RecordBytes) +
                          "-byte records (truncated or foreign file)");
  }
  const int64_t count = size / kCifar10RecordBytes;
  torch::Tensor records = torch::from_blob(const_cast<std::uint8_t*>(bytes.data()),
                                           {count, kCifar10RecordBytes}, torch::kUInt8);
  torch::Tensor labels = records.select(1, 0).to(torch::kInt64);
  const int64_t max_label = labels.max().item<int64_t>();
  if (max_label > 9) {
    const int64_t record = labels.gt(9).nonzero()[0][0].item<int64_t>();
    throw Error(path, "record " + std::to_string(record) + " has label " +
                          std::to_string(labels[record].item<int64_t>()) +
                          ", outside 0..9 (not a CIFAR-10 batch?)");
  }
  torch::Tensor images = records.narrow(1, 1, kCifar10RecordBytes - 1).reshape({count, 3, 32, 32});
  return {images.clone(), labels};
}

void write_cifar10_batch(const std::string& path, const torch::Tensor& images,
                         const torch::Tensor& labels) {
  if (images.dim() != 4 || images.size(1) != 3 || images.size(2) != 32 || images.size(3) != 32 ||
      labels.dim() != 1 || labels.size(0) != images.size(0)) {
    throw Error(path, "CIFAR-10 records need images [N,3,32,32] and labels [N]");
  }
  torch::Tensor records = torch::cat({labels.to(torch::kUInt8).unsqueeze(1),
                                      images.to(torch::kUInt8).reshape({images.size(0), -1})},
                                     1)
                              .contiguous();
  const auto* begin = records.data_ptr<std::uint8_t>();
  write_binary_file(path, std::vector<std::uint8_t>(begin, begin + records.numel()));
}

}  // namespace robustscope
