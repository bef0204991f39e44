// A Record is what one task (or one run) leaves behind: named tensors and attributes, addressed by
// paths relative to the record's group ("" is the group itself, "samples/7/grid" a dataset below
// it). One implementation writes a Record to HDF5 and reads it back, and one checksums it: tasks,
// landscapes, models and run records all go through them.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/records/hdf5_file.hpp"

namespace robustscope {

struct Record {
  std::map<std::string, torch::Tensor> datasets;  // relative path → CPU tensor
  std::map<std::string, std::map<std::string, AttributeValue>> attributes;  // path → name → value

  void set(const std::string& name, const AttributeValue& value, const std::string& path = "") {
    attributes[path][name] = value;
  }
  // The attribute `name` of the group `path` ("" the record's own); Error naming it when absent or
  // of another type.
  const std::string& text(const std::string& name, const std::string& path = "") const;
  double number(const std::string& name, const std::string& path = "") const;
  int64_t integer(const std::string& name, const std::string& path = "") const;
  bool has(const std::string& name, const std::string& path = "") const;
  // A dataset; Error naming it when absent.
  const torch::Tensor& dataset(const std::string& path) const;
};

// FNV-1a 64 over every dataset's path, type, shape and bytes, in path order: what resume compares
// with the checksum stored beside the data to know the data is the data that was written.
std::string record_checksum(const Record& record);

// Writes `record` under the group `base` ("/" or "/tasks/ab12…"): its datasets, then attributes.
void write_record(Hdf5File& file, const std::string& base, const Record& record);
// Reads every dataset and attribute below `base`.
Record read_record(const Hdf5File& file, const std::string& base);

// Writes `record` as the root of a new HDF5 file through atomic_replace (a .partial file, closed,
// synced and renamed), so `path` is either absent or complete whatever happens to the process.
void write_record_file(const std::string& path, const Record& record);
// Reads the root record of a file (Error naming the file when it is not readable HDF5).
Record read_record_file(const std::string& path);

}  // namespace robustscope
