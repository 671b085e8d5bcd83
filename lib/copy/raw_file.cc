// RawVolume over a file or block device: pread/pwrite, SEEK_DATA/SEEK_HOLE.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "lib/copy/raw_volume.h"
#include "lib/util/fd_io.h"
#include "lib/util/status_macros.h"

namespace volcrypt {

RawVolume::~RawVolume() = default;

namespace {

class RawFile final : public RawVolume {
 public:
  RawFile(ScopedFd fd, uint64_t size, std::string path)
      : fd_(std::move(fd)), size_(size), path_(std::move(path)) {}

  uint64_t size() const override { return size_; }
  absl::Status Read(uint64_t off, void* buf, size_t len) override {
    return ReadFully(fd_.get(), off, buf, len, path_);
  }
  absl::Status Write(uint64_t off, const void* buf, size_t len) override {
    return WriteFully(fd_.get(), off, buf, len, path_);
  }
  absl::Status ForEachDataExtent(
      uint64_t off, uint64_t len,
      const std::function<absl::Status(uint64_t, uint64_t)>& fn) override {
    const uint64_t end = std::min(size_, off + len);
    uint64_t pos = off;
    while (pos < end) {
      off_t data = lseek(fd_.get(), static_cast<off_t>(pos), SEEK_DATA);
      if (data < 0) {
        if (errno == ENXIO) return absl::OkStatus();  // only a hole is left
        if (errno == EINVAL) return fn(pos, end - pos);  // no SEEK_DATA here
        return ErrnoStatus("seek data in", path_);
      }
      if (static_cast<uint64_t>(data) >= end) return absl::OkStatus();
      off_t hole = lseek(fd_.get(), data, SEEK_HOLE);
      if (hole < 0) return ErrnoStatus("seek hole in", path_);
      const uint64_t stop = std::min<uint64_t>(end, static_cast<uint64_t>(hole));
      VOLCRYPT_RETURN_IF_ERROR(fn(static_cast<uint64_t>(data), stop - data));
      pos = stop;
    }
    return absl::OkStatus();
  }
  absl::Status Sync() override {
    if (fdatasync(fd_.get()) != 0) return ErrnoStatus("sync", path_);
    return absl::OkStatus();
  }

 private:
  ScopedFd fd_;
  uint64_t size_;
  std::string path_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RawVolume>> OpenRawFile(const std::string& path,
                                                       bool writable) {
  ScopedFd fd(open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus("open", path);
  VOLCRYPT_ASSIGN_OR_RETURN(const uint64_t size, DeviceBytes(fd.get(), path));
  return std::unique_ptr<RawVolume>(new RawFile(std::move(fd), size, path));
}

}  // namespace volcrypt
