#include "lib/copy/rbd_raw_volume.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"
#include "volcrypt/rbd_backend.h"

namespace volcrypt {
namespace {

absl::Status RbdError(int r, const std::string& what) {
  return StatusFromErrno(r, absl::StrCat(what, ": ", strerror(-r)));
}

class RbdRawVolume final : public RawVolume {
 public:
  RbdRawVolume(rados_ioctx_t io, rbd_image_t img, uint64_t size, std::string name)
      : io_(io), img_(img), size_(size), name_(std::move(name)) {}
  ~RbdRawVolume() override {
    rbd_close(img_);
    rados_ioctx_destroy(io_);
  }

  uint64_t size() const override { return size_; }
  absl::Status Read(uint64_t off, void* buf, size_t len) override {
    const ssize_t n = rbd_read(img_, off, len, static_cast<char*>(buf));
    if (n < 0) return RbdError(static_cast<int>(n), "read rbd image " + name_);
    if (static_cast<size_t>(n) != len) {
      return ErrnoError(absl::StatusCode::kOutOfRange, EIO,
                        absl::StrCat("rbd image ", name_, ": short read at ", off));
    }
    return absl::OkStatus();
  }
  absl::Status Write(uint64_t off, const void* buf, size_t len) override {
    const ssize_t n = rbd_write(img_, off, len, static_cast<const char*>(buf));
    if (n < 0) return RbdError(static_cast<int>(n), "write rbd image " + name_);
    if (static_cast<size_t>(n) != len) {
      return ErrnoError(absl::StatusCode::kDataLoss, EIO,
                        absl::StrCat("rbd image ", name_, ": short write at ", off));
    }
    return absl::OkStatus();
  }
  absl::Status ForEachDataExtent(
      uint64_t off, uint64_t len,
      const std::function<absl::Status(uint64_t, uint64_t)>& fn) override {
    struct Ctx {
      const std::function<absl::Status(uint64_t, uint64_t)>* fn;
      absl::Status status;
    } ctx{&fn, absl::OkStatus()};
    // Against no snapshot, whole objects: what exists (exists=1) may hold
    // data; what does not reads as zeros.
    const int r = rbd_diff_iterate2(
        img_, nullptr, off, len, /*include_parent=*/1, /*whole_object=*/0,
        [](uint64_t o, size_t l, int exists, void* arg) -> int {
          auto* c = static_cast<Ctx*>(arg);
          if (!exists) return 0;
          c->status = (*c->fn)(o, l);
          return c->status.ok() ? 0 : -ECANCELED;
        },
        &ctx);
    if (!ctx.status.ok()) return ctx.status;
    if (r < 0) return RbdError(r, "list the extents of rbd image " + name_);
    return absl::OkStatus();
  }
  absl::Status Sync() override {
    const int r = rbd_flush(img_);
    if (r < 0) return RbdError(r, "flush rbd image " + name_);
    return absl::OkStatus();
  }

 private:
  rados_ioctx_t io_;
  rbd_image_t img_;
  uint64_t size_;
  std::string name_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RawVolume>> WrapRbdImage(rados_ioctx_t io,
                                                        rbd_image_t image,
                                                        std::string name) {
  uint64_t size = 0;
  const int r = rbd_get_size(image, &size);
  if (r < 0) {
    rbd_close(image);
    rados_ioctx_destroy(io);
    return RbdError(r, "size of rbd image " + name);
  }
  return std::unique_ptr<RawVolume>(new RbdRawVolume(io, image, size, std::move(name)));
}

}  // namespace volcrypt
