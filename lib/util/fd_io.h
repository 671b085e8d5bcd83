// Whole-buffer positional I/O and small file helpers over POSIX descriptors,
// reporting errno-carrying statuses that name what was being accessed.
#ifndef VOLCRYPT_LIB_UTIL_FD_IO_H_
#define VOLCRYPT_LIB_UTIL_FD_IO_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace volcrypt {

// pread/pwrite until all `len` bytes are done. A short read (end of file) is
// OutOfRange. `what` names the file in errors.
absl::Status ReadFully(int fd, uint64_t offset, void* buf, size_t len,
                       const std::string& what);
absl::Status WriteFully(int fd, uint64_t offset, const void* buf, size_t len,
                        const std::string& what);

// write() until all `len` bytes are done, for pipes and sockets (no offset).
// A reader that has gone is EPIPE (FailedPrecondition), never a SIGPIPE that
// kills the caller.
absl::Status WriteStream(int fd, const void* buf, size_t len, const std::string& what);

// Returns the size of the regular file or block device open at `fd`.
absl::StatusOr<uint64_t> DeviceBytes(int fd, const std::string& what);

// Returns a status for the current errno while doing `action` on `what`.
absl::Status ErrnoStatus(const std::string& action, const std::string& what);

// A file descriptor closed on destruction.
class ScopedFd {
 public:
  explicit ScopedFd(int fd = -1) : fd_(fd) {}
  ScopedFd(ScopedFd&& other) noexcept : fd_(other.release()) {}
  ScopedFd& operator=(ScopedFd&& other) noexcept;
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd();

  int get() const { return fd_; }
  int release();

 private:
  int fd_;
};

// Opens `path` with `flags` (O_CLOEXEC added). Errors name the path.
absl::StatusOr<ScopedFd> OpenFile(const std::string& path, int flags,
                                  unsigned mode = 0);

// fsyncs directory `dir`, or the directory holding `path`, so that a create,
// rename or unlink in it is durable.
absl::Status SyncDir(const std::string& dir);
absl::Status SyncParentDir(const std::string& path);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_UTIL_FD_IO_H_
