// The HDF5 wrapper: RAII handles around the C API, errors with file and object path.
#include "engine/records/hdf5_file.hpp"

#include <hdf5.h>
#include <torch/types.h>

#include <filesystem>
#include <vector>

#include "core/error.hpp"

namespace robustscope {
namespace {

// Collects the innermost message of HDF5's error stack.
herr_t keep_message(unsigned, const H5E_error2_t* error, void* data) {
  auto* message = static_cast<std::string*>(data);
  if (error->desc) *message = error->desc;
  return 0;
}

[[noreturn]] void fail(const std::string& file, const std::string& object,
                       const std::string& what) {
  std::string detail;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, keep_message, &detail);
  H5Eclear2(H5E_DEFAULT);
  // HDF5's innermost message can run over several lines (a failed write lists its buffers): the
  // cause is what the user needs.
  const size_t cause = detail.find("error message = '");
  if (cause != std::string::npos) {
    const size_t start = cause + 17, end = detail.find('\'', start);
    detail = "write failed: " + detail.substr(start, end - start) + "; disk full or size limit?";
  }
  detail = detail.substr(0, detail.find('\n'));
  throw Error(file + ":" + object, what + (detail.empty() ? "" : " (" + detail + ")"));
}

// One owned hid_t, closed by the matching H5*close.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// HDF5 prints nothing itself; we report through Error. And it runs no clean-up at exit: every
// handle is closed by its owner, and a file whose close failed (a full disk) stays open in HDF5's
// table, where the library's own atexit close crashes in HDF5 1.10 (H5F__close_cb).
struct SilenceHdf5 {
  SilenceHdf5() {
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
};
const SilenceHdf5 kSilence;

// A thread-safe HDF5 (Debian's) keeps the error-printing setting per thread: every thread that
// opens a file (a rank's task slots) turns it off for itself, or each failed write prints a
// hundred-line HDF5-DIAG stack.
void silence_this_thread() {
  thread_local const bool silenced = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)silenced;
}

hid_t memory_type(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat32:
      return H5T_NATIVE_FLOAT;
    case torch::kFloat64:
      return H5T_NATIVE_DOUBLE;
    case torch::kInt64:
      return H5T_NATIVE_INT64;
    case torch::kInt32:
      return H5T_NATIVE_INT32;
    case torch::kUInt8:
      return H5T_NATIVE_UINT8;
    default:
      return -1;
  }
}

}  // namespace

std::string hdf5_version() {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release);
}

Hdf5File::Hdf5File(const std::string& path, Mode mode) : path_(path) {
  silence_this_thread();
  if (mode == Mode::kCreate) {
    file_ = H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    if (file_ < 0) {
      std::error_code error;
      fail(path, "/",
           std::filesystem::exists(path, error) ? "cannot create the HDF5 file: it exists already"
                                                : "cannot create the HDF5 file");
    }
  } else {
    file_ =
        H5Fopen(path.c_str(), mode == Mode::kReadOnly ? H5F_ACC_RDONLY : H5F_ACC_RDWR, H5P_DEFAULT);
    if (file_ < 0) fail(path, "/", "cannot open as an HDF5 file (missing, truncated or foreign?)");
  }
}

Hdf5File::~Hdf5File() {
  if (file_ >= 0) {
    H5Fclose(file_);
    H5Eclear2(H5E_DEFAULT);
  }
}

void Hdf5File::close() {
  if (file_ < 0) return;
  const hid_t file = file_;
  file_ = -1;
  if (H5Fclose(file) < 0) fail(path_, "/", "cannot finish writing the file (disk full?)");
}

void Hdf5File::flush() {
  if (H5Fflush(file_, H5F_SCOPE_GLOBAL) < 0) fail(path_, "/", "flush failed");
}

bool Hdf5File::exists(const std::string& object_path) const {
  if (object_path == "/") return true;
  // Check every prefix: H5Lexists fails on a missing intermediate group.
  size_t position = 0;
  while ((position = object_path.find('/', position + 1)) != std::string::npos) {
    if (H5Lexists(file_, object_path.substr(0, position).c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return H5Lexists(file_, object_path.c_str(), H5P_DEFAULT) > 0;
}

void Hdf5File::create_group(const std::string& object_path) {
  if (exists(object_path)) return;
  Handle links(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(links.get(), 1);
  Handle group(H5Gcreate2(file_, object_path.c_str(), links.get(), H5P_DEFAULT, H5P_DEFAULT),
               H5Gclose);
  if (!group.valid()) fail(path_, object_path, "cannot create group");
}

void Hdf5File::write_tensor(const std::string& object_path, const torch::Tensor& tensor) {
  if (exists(object_path))
    fail(path_, object_path, "already exists: results are never overwritten");
  torch::Tensor data = tensor.detach().cpu();
  if (data.scalar_type() == torch::kBool) data = data.to(torch::kUInt8);
  data = data.contiguous();
  const hid_t type = memory_type(data.scalar_type());
  if (type < 0)
    fail(path_, object_path,
         "cannot store tensors of type " + std::string(c10::toString(data.scalar_type())));
  std::vector<hsize_t> dims(data.sizes().begin(), data.sizes().end());
  Handle space(dims.empty() ? H5Screate(H5S_SCALAR)
                            : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
               H5Sclose);
  Handle links(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(links.get(), 1);
  Handle dataset(H5Dcreate2(file_, object_path.c_str(), type, space.get(), links.get(), H5P_DEFAULT,
                            H5P_DEFAULT),
                 H5Dclose);
  if (!dataset.valid()) fail(path_, object_path, "cannot create dataset");
  if (data.numel() > 0 &&
      H5Dwrite(dataset.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data_ptr()) < 0) {
    fail(path_, object_path, "cannot write dataset");
  }
}

torch::Tensor Hdf5File::read_tensor(const std::string& object_path) const {
  if (!exists(object_path)) fail(path_, object_path, "no such dataset");
  Handle dataset(H5Dopen2(file_, object_path.c_str(), H5P_DEFAULT), H5Dclose);
  if (!dataset.valid()) fail(path_, object_path, "cannot open dataset");
  Handle space(H5Dget_space(dataset.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) fail(path_, object_path, "cannot read the dataset's shape");
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  Handle file_type(H5Dget_type(dataset.get()), H5Tclose);
  torch::ScalarType scalar;
  const H5T_class_t type_class = H5Tget_class(file_type.get());
  const size_t size = H5Tget_size(file_type.get());
  if (type_class == H5T_FLOAT)
    scalar = size == 4 ? torch::kFloat32 : torch::kFloat64;
  else if (type_class == H5T_INTEGER && size == 1)
    scalar = torch::kUInt8;
  else if (type_class == H5T_INTEGER && size == 4)
    scalar = torch::kInt32;
  else if (type_class == H5T_INTEGER)
    scalar = torch::kInt64;
  else
    fail(path_, object_path, "is not a numeric dataset");
  torch::Tensor out = torch::empty(std::vector<int64_t>(dims.begin(), dims.end()), scalar);
  if (out.numel() > 0 && H5Dread(dataset.get(), memory_type(scalar), H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                 out.data_ptr()) < 0) {
    fail(path_, object_path, "cannot read dataset (truncated file?)");
  }
  return out;
}

void Hdf5File::write_attribute(const std::string& object_path, const std::string& name,
                               const AttributeValue& value) {
  Handle object(H5Oopen(file_, object_path.c_str(), H5P_DEFAULT), H5Oclose);
  if (!object.valid()) fail(path_, object_path, "cannot open object for attribute " + name);
  if (H5Aexists(object.get(), name.c_str()) > 0) H5Adelete(object.get(), name.c_str());
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  if (const auto* text = std::get_if<std::string>(&value)) {
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), H5T_VARIABLE);
    H5Tset_cset(type.get(), H5T_CSET_UTF8);
    Handle attribute(
        H5Acreate2(object.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
        H5Aclose);
    const char* data = text->c_str();
    if (!attribute.valid() || H5Awrite(attribute.get(), type.get(), &data) < 0) {
      fail(path_, object_path, "cannot write attribute " + name);
    }
    return;
  }
  const bool is_double = std::holds_alternative<double>(value);
  const hid_t type = is_double ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
  Handle attribute(
      H5Acreate2(object.get(), name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
      H5Aclose);
  const void* data = is_double ? static_cast<const void*>(&std::get<double>(value))
                               : static_cast<const void*>(&std::get<int64_t>(value));
  if (!attribute.valid() || H5Awrite(attribute.get(), type, data) < 0) {
    fail(path_, object_path, "cannot write attribute " + name);
  }
}

AttributeValue Hdf5File::read_attribute(const std::string& object_path,
                                        const std::string& name) const {
  Handle object(H5Oopen(file_, object_path.c_str(), H5P_DEFAULT), H5Oclose);
  if (!object.valid()) fail(path_, object_path, "no such object");
  if (H5Aexists(object.get(), name.c_str()) <= 0)
    fail(path_, object_path, "has no attribute " + name);
  Handle attribute(H5Aopen(object.get(), name.c_str(), H5P_DEFAULT), H5Aclose);
  Handle type(H5Aget_type(attribute.get()), H5Tclose);
  const H5T_class_t type_class = H5Tget_class(type.get());
  if (type_class == H5T_STRING) {
    if (H5Tis_variable_str(type.get()) > 0) {
      char* data = nullptr;
      if (H5Aread(attribute.get(), type.get(), &data) < 0)
        fail(path_, object_path, "cannot read attribute " + name);
      const std::string text = data ? data : "";
      H5free_memory(data);
      return text;
    }
    std::string text(H5Tget_size(type.get()), '\0');
    if (H5Aread(attribute.get(), type.get(), text.data()) < 0)
      fail(path_, object_path, "cannot read attribute " + name);
    return std::string(text.c_str());
  }
  if (type_class == H5T_FLOAT) {
    double number = 0;
    if (H5Aread(attribute.get(), H5T_NATIVE_DOUBLE, &number) < 0)
      fail(path_, object_path, "cannot read attribute " + name);
    return number;
  }
  if (type_class != H5T_INTEGER)
    fail(path_, object_path, "attribute " + name + " is not text or a number");
  int64_t number = 0;
  if (H5Aread(attribute.get(), H5T_NATIVE_INT64, &number) < 0)
    fail(path_, object_path, "cannot read attribute " + name);
  return number;
}

namespace {

// H5Literate and H5L_info_t map to the newest API of the HDF5 in use (1.10 … 1.14); the object's
// type comes from opening it, which every version spells the same way.
herr_t collect_child(hid_t group, const char* name, const H5L_info_t*, void* data) {
  Handle object(H5Oopen(group, name, H5P_DEFAULT), H5Oclose);
  if (!object.valid()) return -1;
  static_cast<std::vector<Hdf5File::Child>*>(data)->push_back(
      {name, H5Iget_type(object.get()) == H5I_GROUP});
  return 0;
}

herr_t collect_attribute(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

}  // namespace

std::vector<Hdf5File::Child> Hdf5File::children(const std::string& group_path) const {
  Handle group(H5Gopen2(file_, group_path.c_str(), H5P_DEFAULT), H5Gclose);
  if (!group.valid()) fail(path_, group_path, "no such group");
  std::vector<Child> found;
  if (H5Literate(group.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_child, &found) < 0)
    fail(path_, group_path, "cannot list the group (truncated file?)");
  return found;
}

std::vector<std::string> Hdf5File::attribute_names(const std::string& object_path) const {
  Handle object(H5Oopen(file_, object_path.c_str(), H5P_DEFAULT), H5Oclose);
  if (!object.valid()) fail(path_, object_path, "no such object");
  std::vector<std::string> names;
  if (H5Aiterate2(object.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_attribute, &names) <
      0) {
    fail(path_, object_path, "cannot list attributes (truncated file?)");
  }
  return names;
}

}  // namespace robustscope
