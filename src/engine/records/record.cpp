// Records: the one HDF5 write and read of results, and their checksum.
#include "engine/records/record.hpp"

#include <torch/types.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/error.hpp"
#include "core/runtime/files.hpp"
#include "core/runtime/hashing.hpp"

namespace robustscope {
namespace {

std::string child_path(const std::string& base, const std::string& relative) {
  if (relative.empty()) return base;
  return base == "/" ? "/" + relative : base + "/" + relative;
}

// What HDF5 gives back: bool is stored as uint8, so the checksum and the wire see uint8 too.
torch::Tensor canonical(const torch::Tensor& tensor) {
  torch::Tensor data = tensor.detach().cpu();
  if (data.scalar_type() == torch::kBool) data = data.to(torch::kUInt8);
  return data.contiguous();
}

template <typename T>
const T& attribute_as(const Record& record, const std::string& name, const std::string& path,
                      const char* type_name) {
  const std::string where = "record attribute " + (path.empty() ? "" : path + "/") + name;
  const auto group = record.attributes.find(path);
  if (group == record.attributes.end() || !group->second.count(name)) throw Error(where, "missing");
  const auto* value = std::get_if<T>(&group->second.at(name));
  if (!value) throw Error(where, std::string("is not ") + type_name);
  return *value;
}

}  // namespace

bool Record::has(const std::string& name, const std::string& path) const {
  const auto group = attributes.find(path);
  return group != attributes.end() && group->second.count(name);
}
const std::string& Record::text(const std::string& name, const std::string& path) const {
  return attribute_as<std::string>(*this, name, path, "text");
}
double Record::number(const std::string& name, const std::string& path) const {
  return attribute_as<double>(*this, name, path, "a number");
}
int64_t Record::integer(const std::string& name, const std::string& path) const {
  return attribute_as<int64_t>(*this, name, path, "an integer");
}
const torch::Tensor& Record::dataset(const std::string& path) const {
  const auto found = datasets.find(path);
  if (found == datasets.end()) throw Error("record dataset " + path, "missing");
  return found->second;
}

std::string record_checksum(const Record& record) {
  Fnv1a hash;
  for (const auto& [path, tensor] : record.datasets) {
    const torch::Tensor data = canonical(tensor);
    hash.add_text(path);
    hash.add_text(c10::toString(data.scalar_type()));
    for (int64_t size : data.sizes()) hash.add(&size, sizeof(size));
    hash.add(data.data_ptr(), data.numel() * data.element_size());
  }
  return hash.hex();
}

void write_record(Hdf5File& file, const std::string& base, const Record& record) {
  file.create_group(base);
  for (const auto& [path, tensor] : record.datasets)
    file.write_tensor(child_path(base, path), tensor);
  for (const auto& [path, values] : record.attributes) {
    if (!path.empty()) file.create_group(child_path(base, path));
    for (const auto& [name, value] : values)
      file.write_attribute(child_path(base, path), name, value);
  }
}

namespace {
void read_group(const Hdf5File& file, const std::string& base, const std::string& relative,
                Record& record) {
  const std::string group = child_path(base, relative);
  for (const std::string& name : file.attribute_names(group))
    record.attributes[relative][name] = file.read_attribute(group, name);
  for (const Hdf5File::Child& child : file.children(group)) {
    const std::string path = relative.empty() ? child.name : relative + "/" + child.name;
    if (child.is_group) {
      read_group(file, base, path, record);
    } else {
      record.datasets[path] = file.read_tensor(child_path(base, path));
      for (const std::string& name : file.attribute_names(child_path(base, path)))
        record.attributes[path][name] = file.read_attribute(child_path(base, path), name);
    }
  }
}
}  // namespace

Record read_record(const Hdf5File& file, const std::string& base) {
  Record record;
  read_group(file, base, "", record);
  return record;
}

void write_record_file(const std::string& path, const Record& record) {
  atomic_replace(path, [&record](const std::string& partial) {
    Hdf5File file(partial, Hdf5File::Mode::kCreate);
    write_record(file, "/", record);
    file.close();
  });
}

Record read_record_file(const std::string& path) {
  const Hdf5File file(path, Hdf5File::Mode::kReadOnly);
  return read_record(file, "/");
}

}  // namespace robustscope
