// Atomic files, bounded reads, output checks and the run lock.
#include "core/runtime/files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.hpp"
#include "core/version.hpp"

namespace robustscope {
namespace fs = std::filesystem;
namespace {

void sync_path(const std::string& path, int flags) {
  const int descriptor = ::open(path.c_str(), flags);
  if (descriptor < 0)
    throw Error(path, std::string("cannot open to sync: ") + std::strerror(errno));
  const int result = ::fsync(descriptor);
  const int error = errno;
  ::close(descriptor);
  // Some file systems refuse fsync on folders (EINVAL): the rename is then as durable as they
  // allow.
  if (result != 0 && !(flags & O_DIRECTORY && error == EINVAL))
    throw Error(path, std::string("cannot sync to disk: ") + std::strerror(error));
}

std::string parent_of(const std::string& path) {
  const fs::path parent = fs::absolute(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

}  // namespace

bool reports_full_disk(const std::string& message) {
  for (const int code : {ENOSPC, EDQUOT, EFBIG})
    if (message.find(std::strerror(code)) != std::string::npos) return true;
  return false;
}

std::string free_space_text(const std::string& path) {
  std::error_code error;
  const std::filesystem::space_info space = std::filesystem::space(path, error);
  if (error) return "free space unknown";
  char text[64];
  std::snprintf(text, sizeof(text), "%.1f MiB free",
                static_cast<double>(space.available) / (1024.0 * 1024.0));
  return text;
}

std::string resolved_path(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::path resolved = fs::absolute(path, error).lexically_normal();
  if (error) return path;
  // A link whose target does not exist yet is followed by hand: weakly_canonical keeps it.
  for (int hops = 0; hops < 40 && fs::is_symlink(fs::symlink_status(resolved, error)); ++hops) {
    const fs::path target = fs::read_symlink(resolved, error);
    if (error) break;
    resolved = (target.is_absolute() ? target : resolved.parent_path() / target).lexically_normal();
  }
  const fs::path canonical = fs::weakly_canonical(resolved, error);
  return error ? resolved.string() : canonical.string();
}

std::string host_name() {
  char name[256] = {0};
  ::gethostname(name, sizeof(name) - 1);
  return name;
}

void atomic_replace(const std::string& path,
                    const std::function<void(const std::string& partial)>& write) {
  const std::string partial = path + ".partial";
  std::error_code ignored;
  fs::remove(partial, ignored);  // a leftover of a killed writer
  try {
    write(partial);
    sync_path(partial, O_RDONLY);
    if (::rename(partial.c_str(), path.c_str()) != 0)
      throw Error(path, "cannot move " + partial + " into place: " + std::strerror(errno));
  } catch (...) {
    fs::remove(partial, ignored);
    throw;
  }
  sync_path(parent_of(path), O_RDONLY | O_DIRECTORY);
}

void atomic_write_text(const std::string& path, const std::string& text) {
  atomic_replace(path, [&text](const std::string& partial) {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw Error(partial, std::string("cannot write: ") + std::strerror(errno));
  });
}

std::string read_text_file(const std::string& path, size_t max_bytes) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0)
    throw Error(path, std::string("cannot be read: ") + std::strerror(errno));
  if (!S_ISREG(info.st_mode)) throw Error(path, "is not a regular file");
  if (static_cast<size_t>(info.st_size) > max_bytes)
    throw Error(path, "is " + std::to_string(info.st_size) + " bytes, more than the " +
                          std::to_string(max_bytes) + " allowed");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot be opened");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void check_output_folder(const std::string& folder, const std::string& what) {
  std::error_code error;
  fs::create_directories(folder, error);
  if (error) throw Error(folder, what + ": cannot create the folder: " + error.message());
  if (::access(folder.c_str(), W_OK | X_OK) != 0)
    throw Error(folder, what + ": the folder is not writable");
}

void check_output_path(const std::string& path, bool force, const std::string& flag) {
  if (path.empty()) throw Error(flag, "is empty");
  if (fs::is_directory(path)) throw Error(flag, "\"" + path + "\" is a folder, not a file");
  if (fs::exists(path) && !force)
    throw Error(flag, "\"" + path + "\" exists already (use --force to overwrite it)");
  const std::string parent = parent_of(path);
  if (!fs::is_directory(parent))
    throw Error(flag, "\"" + path + "\": the folder " + parent + " does not exist");
  if (::access(parent.c_str(), W_OK | X_OK) != 0)
    throw Error(flag, "\"" + path + "\": the folder " + parent + " is not writable");
}

FileLock::FileLock(const std::string& path, const std::string& what, LockMode mode) {
  descriptor_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (descriptor_ < 0)
    throw Error(path, "cannot create the lock file: " + std::string(std::strerror(errno)));
  const int operation = mode == LockMode::kShared      ? LOCK_SH | LOCK_NB
                        : mode == LockMode::kExclusive ? LOCK_EX | LOCK_NB
                                                       : LOCK_EX;
  int status;
  do {
    status = ::flock(descriptor_, operation);
  } while (status != 0 && errno == EINTR);
  if (status != 0) {
    const int error = errno;
    std::string holder(512, '\0');
    const ssize_t read = ::pread(descriptor_, holder.data(), holder.size(), 0);
    holder.resize(read > 0 ? static_cast<size_t>(read) : 0);
    ::close(descriptor_);
    descriptor_ = -1;
    if (error == EWOULDBLOCK)
      throw Error(path, what + " is in use by another run (" +
                            (holder.empty() ? std::string("holder unknown") : holder) +
                            "); wait for it to end, or use another output");
    throw Error(path, "cannot lock: " + std::string(std::strerror(error)));
  }
  const std::string holder =
      "host " + host_name() + ", pid " + std::to_string(::getpid()) + ", since " + utc_timestamp();
  if (::ftruncate(descriptor_, 0) != 0 ||
      ::pwrite(descriptor_, holder.data(), holder.size(), 0) < 0) {
    // The lock holds without the note; a second run then reports "holder unknown".
  }
}

FileLock::~FileLock() {
  if (descriptor_ >= 0) ::close(descriptor_);  // closing releases the lock
}

}  // namespace robustscope
