// The one HDF5 wrapper (C API, RAII handles): whole-tensor datasets and scalar or string
// attributes, with HDF5's errors turned into robustscope::Error naming the file and the object
// path. No other module includes hdf5.h.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace robustscope {

using AttributeValue = std::variant<std::string, double, int64_t>;

class Hdf5File {
 public:
  enum class Mode { kCreate, kReadOnly, kReadWrite };
  Hdf5File(const std::string& path, Mode mode);
  ~Hdf5File();
  Hdf5File(const Hdf5File&) = delete;
  Hdf5File& operator=(const Hdf5File&) = delete;

  const std::string& path() const { return path_; }
  // Writes a whole tensor (float32, float64, int64, int32, uint8, bool as uint8) at `object_path`,
  // creating intermediate groups. Refuses to overwrite an existing object.
  void write_tensor(const std::string& object_path, const torch::Tensor& tensor);
  torch::Tensor read_tensor(const std::string& object_path) const;
  void create_group(const std::string& object_path);
  bool exists(const std::string& object_path) const;
  // Attributes on a group or dataset ("/" is the root). Text is stored as variable-length UTF-8
  // (h5py reads it as str), numbers as float64 or int64.
  void write_attribute(const std::string& object_path, const std::string& name,
                       const AttributeValue& value);
  AttributeValue read_attribute(const std::string& object_path, const std::string& name) const;
  void flush();
  // Closes the file, flushing what is left; Error when that fails (a full disk). The destructor
  // closes quietly when this was not called.
  void close();

  struct Child {
    std::string name;
    bool is_group;
  };
  // The links directly below a group, in name order.
  std::vector<Child> children(const std::string& group_path) const;
  std::vector<std::string> attribute_names(const std::string& object_path) const;

 private:
  std::string path_;
  int64_t file_ = -1;  // hid_t
};

// The HDF5 library's version, for provenance.
std::string hdf5_version();

}  // namespace robustscope
