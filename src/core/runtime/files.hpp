// Files written whole or not at all, bounded reads, output checks before work, and a lock that
// keeps two runs out of one output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace robustscope {

// Writes `path` through `write(partial)`, which fills `path`.partial; the partial file is then
// synced, renamed onto `path` and the folder synced, so `path` is the old file or the whole new
// one whatever happens to the process or the machine. On any failure (also one thrown by `write`)
// the partial file is removed and the error propagates; `path` is untouched.
void atomic_replace(const std::string& path,
                    const std::function<void(const std::string& partial)>& write);
void atomic_write_text(const std::string& path, const std::string& text);

// A regular file's bytes, at most `max_bytes` (Error naming the file beyond that, or when it is a
// folder, a device or a pipe).
std::string read_text_file(const std::string& path, size_t max_bytes);

// Before any work: `path` can be created (its folder exists and is writable) and, unless `force`,
// does not exist yet. `flag` names the option for the message ("--output").
void check_output_path(const std::string& path, bool force, const std::string& flag);
// A folder that exists (or can be created) and is writable.
void check_output_folder(const std::string& folder, const std::string& what);

// An advisory lock (flock) on `path`, created if needed, held for the object's lifetime. The
// holder writes "host <h>, pid <p>, since <t>" into the file. kExclusive and kShared fail at once
// with an Error naming `what` and the last holder; kShared is held by any number of takers at once
// (the parts of a sweep) and excludes kExclusive; kExclusiveWaiting waits its turn (merges).
enum class LockMode { kExclusive, kShared, kExclusiveWaiting };

class FileLock {
 public:
  FileLock(const std::string& path, const std::string& what, LockMode mode = LockMode::kExclusive);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int descriptor_ = -1;
};

std::string host_name();

// Whether an error's message says a write found no room: a full file system, a quota or a file
// size limit (ENOSPC, EDQUOT, EFBIG, in strerror's words, which HDF5's and our messages carry).
bool reports_full_disk(const std::string& message);
// What the file system holding `path` has free for this user, as "12.3 MiB free" ("free space
// unknown" when it cannot be read).
std::string free_space_text(const std::string& path);

// The one name of the file `path` refers to: absolute, with ".", ".." and symbolic links resolved
// (a link whose target does not exist yet too), so "m.pt", "./m.pt", "x/../m.pt" and a link to it
// compare equal.
std::string resolved_path(const std::string& path);

}  // namespace robustscope
