// Records: the one HDF5 write and read of results, their checksum, and their bytes for MPI.
#include "engine/store/record.hpp"

#include <fcntl.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/error.hpp"

namespace robustscope {
namespace {

std::string join(const std::string& base, const std::string& relative) {
  if (relative.empty()) return base;
  return base == "/" ? "/" + relative : base + "/" + relative;
}

// What HDF5 gives back: bool is stored as uint8, so the checksum and the wire see uint8 too.
torch::Tensor canonical(const torch::Tensor& tensor) {
  torch::Tensor data = tensor.detach().cpu();
  if (data.scalar_type() == torch::kBool) data = data.to(torch::kUInt8);
  return data.contiguous();
}

class Fnv1a {
 public:
  void add(const void* data, size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < size; ++i) hash_ = (hash_ ^ bytes[i]) * 1099511628211ULL;
  }
  void add(const std::string& text) {
    add(text.data(), text.size());
    add("\0", 1);
  }
  std::string hex() const {
    char text[17];
    std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(hash_));
    return text;
  }

 private:
  uint64_t hash_ = 14695981039346656037ULL;
};

template <typename T>
const T& attribute_as(const Record& record, const std::string& name, const char* type_name) {
  const auto own = record.attributes.find("");
  if (own == record.attributes.end() || !own->second.count(name))
    throw Error("record attribute " + name, "missing");
  const auto* value = std::get_if<T>(&own->second.at(name));
  if (!value) throw Error("record attribute " + name, std::string("is not ") + type_name);
  return *value;
}

// Byte writer and bounds-checked reader of the wire format.
class Writer {
 public:
  template <typename T>
  void put(const T& value) {
    const char* bytes = reinterpret_cast<const char*>(&value);
    out.insert(out.end(), bytes, bytes + sizeof(T));
  }
  void put_text(const std::string& text) {
    put<uint64_t>(text.size());
    out.insert(out.end(), text.begin(), text.end());
  }
  std::vector<char> out;
};

class Reader {
 public:
  explicit Reader(const std::vector<char>& bytes) : bytes_(bytes) {}
  template <typename T>
  T get() {
    T value;
    std::memcpy(&value, take(sizeof(T)), sizeof(T));
    return value;
  }
  std::string get_text() {
    const uint64_t size = get<uint64_t>();
    return std::string(take(size), size);
  }
  const char* take(uint64_t size) {
    if (size > bytes_.size() - position_)
      throw Error("record bytes", "truncated at byte " + std::to_string(position_));
    const char* at = bytes_.data() + position_;
    position_ += size;
    return at;
  }
  bool done() const { return position_ == bytes_.size(); }

 private:
  const std::vector<char>& bytes_;
  size_t position_ = 0;
};

constexpr uint32_t kWireMagic = 0x31525352;  // "RSR1"

}  // namespace

bool Record::has(const std::string& name) const {
  const auto own = attributes.find("");
  return own != attributes.end() && own->second.count(name);
}
const std::string& Record::text(const std::string& name) const {
  return attribute_as<std::string>(*this, name, "text");
}
double Record::number(const std::string& name) const {
  return attribute_as<double>(*this, name, "a number");
}
int64_t Record::integer(const std::string& name) const {
  return attribute_as<int64_t>(*this, name, "an integer");
}

std::string record_checksum(const Record& record) {
  Fnv1a hash;
  for (const auto& [path, tensor] : record.datasets) {
    const torch::Tensor data = canonical(tensor);
    hash.add(path);
    hash.add(c10::toString(data.scalar_type()));
    for (int64_t size : data.sizes()) hash.add(&size, sizeof(size));
    hash.add(data.data_ptr(), data.numel() * data.element_size());
  }
  return hash.hex();
}

void write_record(Hdf5File& file, const std::string& base, const Record& record) {
  file.create_group(base);
  for (const auto& [path, tensor] : record.datasets) file.write_tensor(join(base, path), tensor);
  for (const auto& [path, values] : record.attributes) {
    if (!path.empty()) file.create_group(join(base, path));
    for (const auto& [name, value] : values) file.write_attribute(join(base, path), name, value);
  }
}

namespace {
void read_group(const Hdf5File& file, const std::string& base, const std::string& relative,
                Record& record) {
  const std::string group = join(base, relative);
  for (const std::string& name : file.attribute_names(group))
    record.attributes[relative][name] = file.read_attribute(group, name);
  for (const Hdf5File::Child& child : file.children(group)) {
    const std::string path = relative.empty() ? child.name : relative + "/" + child.name;
    if (child.is_group) {
      read_group(file, base, path, record);
    } else {
      record.datasets[path] = file.read_tensor(join(base, path));
      for (const std::string& name : file.attribute_names(join(base, path)))
        record.attributes[path][name] = file.read_attribute(join(base, path), name);
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
  const std::string partial = path + ".partial";
  std::filesystem::remove(partial);  // a leftover of a killed writer
  {
    Hdf5File file(partial, Hdf5File::Mode::kCreate);
    write_record(file, "/", record);
  }
  // Synced before the rename, so a crash leaves the old state or the whole new file.
  const int descriptor = ::open(partial.c_str(), O_RDONLY);
  if (descriptor < 0 || ::fsync(descriptor) != 0) {
    if (descriptor >= 0) ::close(descriptor);
    throw Error(partial, "cannot sync to disk");
  }
  ::close(descriptor);
  std::error_code error;
  std::filesystem::rename(partial, path, error);
  if (error) throw Error(path, "cannot rename " + partial + " into place: " + error.message());
}

std::vector<char> serialize_record(const Record& record) {
  Writer writer;
  writer.put(kWireMagic);
  writer.put<uint64_t>(record.datasets.size());
  for (const auto& [path, tensor] : record.datasets) {
    const torch::Tensor data = canonical(tensor);
    writer.put_text(path);
    writer.put<int32_t>(static_cast<int32_t>(data.scalar_type()));
    writer.put<uint32_t>(static_cast<uint32_t>(data.dim()));
    for (int64_t size : data.sizes()) writer.put<int64_t>(size);
    const uint64_t size = data.numel() * data.element_size();
    writer.put(size);
    const char* bytes = static_cast<const char*>(data.data_ptr());
    writer.out.insert(writer.out.end(), bytes, bytes + size);
  }
  writer.put<uint64_t>(record.attributes.size());
  for (const auto& [path, values] : record.attributes) {
    writer.put_text(path);
    writer.put<uint64_t>(values.size());
    for (const auto& [name, value] : values) {
      writer.put_text(name);
      writer.put<uint8_t>(static_cast<uint8_t>(value.index()));
      if (const auto* text = std::get_if<std::string>(&value))
        writer.put_text(*text);
      else if (const auto* number = std::get_if<double>(&value))
        writer.put(*number);
      else
        writer.put(std::get<int64_t>(value));
    }
  }
  return writer.out;
}

Record deserialize_record(const std::vector<char>& bytes) {
  Reader reader(bytes);
  if (bytes.size() < sizeof(kWireMagic) || reader.get<uint32_t>() != kWireMagic)
    throw Error("record bytes", "not a serialized record");
  Record record;
  const uint64_t datasets = reader.get<uint64_t>();
  for (uint64_t d = 0; d < datasets; ++d) {
    const std::string path = reader.get_text();
    const auto type = static_cast<torch::ScalarType>(reader.get<int32_t>());
    if (type != torch::kFloat32 && type != torch::kFloat64 && type != torch::kInt64 &&
        type != torch::kInt32 && type != torch::kUInt8) {
      throw Error("record bytes", "dataset " + path + " has an unsupported type");
    }
    const uint32_t dims = reader.get<uint32_t>();
    if (dims > 16)
      throw Error("record bytes",
                  "dataset " + path + " has " + std::to_string(dims) + " dimensions");
    std::vector<int64_t> sizes(dims);
    uint64_t elements = 1;
    for (auto& size : sizes) {
      size = reader.get<int64_t>();
      if (size < 0 || (size > 0 && elements > (uint64_t{1} << 40) / size))
        throw Error("record bytes", "dataset " + path + " has an impossible shape");
      elements *= size;
    }
    const uint64_t size = reader.get<uint64_t>();
    if (size != elements * c10::elementSize(type))
      throw Error("record bytes", "dataset " + path + ": size does not match its shape");
    const char* data = reader.take(size);
    torch::Tensor tensor = torch::empty(sizes, type);
    std::memcpy(tensor.data_ptr(), data, size);
    record.datasets[path] = tensor;
  }
  const uint64_t paths = reader.get<uint64_t>();
  for (uint64_t p = 0; p < paths; ++p) {
    const std::string path = reader.get_text();
    const uint64_t count = reader.get<uint64_t>();
    auto& values = record.attributes[path];
    for (uint64_t a = 0; a < count; ++a) {
      const std::string name = reader.get_text();
      switch (reader.get<uint8_t>()) {
        case 0:
          values[name] = reader.get_text();
          break;
        case 1:
          values[name] = reader.get<double>();
          break;
        case 2:
          values[name] = reader.get<int64_t>();
          break;
        default:
          throw Error("record bytes", "attribute " + name + " has an unknown type");
      }
    }
  }
  if (!reader.done()) throw Error("record bytes", "trailing bytes after the record");
  return record;
}

}  // namespace robustscope
