#include "lib/util/fd_io.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "volcrypt/errors.h"

namespace volcrypt {

absl::Status ErrnoStatus(const std::string& action, const std::string& what) {
  const int err = errno;
  return StatusFromErrno(err,
                         absl::StrCat(what, ": ", action, ": ", strerror(err)));
}

absl::Status ReadFully(int fd, uint64_t offset, void* buf, size_t len,
                       const std::string& what) {
  auto* p = static_cast<uint8_t*>(buf);
  while (len > 0) {
    const ssize_t n = pread(fd, p, len, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read", what);
    }
    if (n == 0) {
      return ErrnoError(absl::StatusCode::kOutOfRange, EIO,
                        absl::StrCat(what, ": unexpected end at byte ", offset));
    }
    p += n;
    len -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

absl::Status WriteFully(int fd, uint64_t offset, const void* buf, size_t len,
                        const std::string& what) {
  const auto* p = static_cast<const uint8_t*>(buf);
  while (len > 0) {
    const ssize_t n = pwrite(fd, p, len, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write", what);
    }
    p += n;
    len -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

namespace {

// A library must not end its caller: a write to a pipe whose reader has gone
// raises SIGPIPE, whose default action kills the process. For the scope of
// one write, SIGPIPE is blocked in this thread, and a SIGPIPE the write
// itself caused is consumed before the old mask returns (one that was
// already pending is left for the caller).
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    already_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    if (raised_ && !already_pending_) {
      const struct timespec no_wait = {0, 0};
      while (sigtimedwait(&pipe_, nullptr, &no_wait) < 0 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  void WriteFailedWithEpipe() { raised_ = true; }

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool already_pending_ = false;
  bool raised_ = false;
};

}  // namespace

absl::Status WriteStream(int fd, const void* buf, size_t len, const std::string& what) {
  SigpipeGuard sigpipe;
  const auto* p = static_cast<const uint8_t*>(buf);
  while (len > 0) {
    const ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE) sigpipe.WriteFailedWithEpipe();
      return ErrnoStatus("write", what);
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> DeviceBytes(int fd, const std::string& what) {
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoStatus("stat", what);
  if (S_ISBLK(st.st_mode)) {
    uint64_t bytes = 0;
    if (ioctl(fd, BLKGETSIZE64, &bytes) != 0) {
      return ErrnoStatus("read block device size", what);
    }
    return bytes;
  }
  return static_cast<uint64_t>(st.st_size);
}

ScopedFd& ScopedFd::operator=(ScopedFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.release();
  }
  return *this;
}

ScopedFd::~ScopedFd() {
  if (fd_ >= 0) close(fd_);
}

int ScopedFd::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

absl::StatusOr<ScopedFd> OpenFile(const std::string& path, int flags,
                                  unsigned mode) {
  int fd;
  do {
    fd = open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return ErrnoStatus("open", path);
  return ScopedFd(fd);
}

absl::Status SyncDir(const std::string& dir) {
  absl::StatusOr<ScopedFd> fd = OpenFile(dir, O_RDONLY | O_DIRECTORY);
  if (!fd.ok()) return fd.status();
  if (fsync(fd->get()) != 0) return ErrnoStatus("sync", dir);
  return absl::OkStatus();
}

absl::Status SyncParentDir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return SyncDir(".");
  return SyncDir(slash == 0 ? "/" : path.substr(0, slash));
}

}  // namespace volcrypt
