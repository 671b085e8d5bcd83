#include <sys/mman.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/util/fd_io.h"
#include "volcrypt/luks.h"

namespace volcrypt {
namespace luks {

LuksHeaderImage::LuksHeaderImage(int fd, uint64_t size)
    : fd_(fd), size_(size), path_(absl::StrCat("/proc/self/fd/", fd)) {}

absl::StatusOr<LuksHeaderImage> LuksHeaderImage::Create(uint64_t size) {
  // A memfd: anonymous memory with a path libcryptsetup can open, so header
  // images never touch a disk or a shared temp directory.
  const int fd = memfd_create("volcrypt-luks-header", MFD_CLOEXEC);
  if (fd < 0) return ErrnoStatus("memfd_create", "LUKS header image");
  LuksHeaderImage image(fd, size);
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    return ErrnoStatus("resize", "LUKS header image");
  }
  return image;
}

LuksHeaderImage::LuksHeaderImage(LuksHeaderImage&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      size_(std::exchange(other.size_, 0)),
      path_(std::move(other.path_)) {}

LuksHeaderImage& LuksHeaderImage::operator=(LuksHeaderImage&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    size_ = std::exchange(other.size_, 0);
    path_ = std::move(other.path_);
  }
  return *this;
}

LuksHeaderImage::~LuksHeaderImage() { Close(); }

void LuksHeaderImage::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

absl::Status LuksHeaderImage::Read(uint64_t offset, void* buf,
                                   size_t len) const {
  return ReadFully(fd_, offset, buf, len, "LUKS header image");
}

absl::Status LuksHeaderImage::Write(uint64_t offset, const void* buf,
                                    size_t len) {
  return WriteFully(fd_, offset, buf, len, "LUKS header image");
}

}  // namespace luks
}  // namespace volcrypt
