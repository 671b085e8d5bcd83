// RbdBackend over librados/librbd's C API. Longer than this project's usual
// file on purpose: one class of short methods around librbd calls (connect,
// create, resize, stat, probe, header read and write, snapshots, clones,
// librbd's own format) that share RAII handles and one error mapping;
// splitting it would scatter those rather than clarify them.
#include "volcrypt/rbd_backend.h"

#include <rados/librados.h>
#include <rbd/librbd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/copy/rbd_raw_volume.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace {

constexpr uint64_t kProbeBytes = 1 << 20;

absl::Status RbdError(int r, const std::string& what) {
  return StatusFromErrno(r, absl::StrCat(what, ": ", strerror(-r)));
}

std::string Name(const VolumeLocation& w) { return w.pool + "/" + w.image; }

absl::Status CheckLocation(const VolumeLocation& w) {
  if (w.kind != BackendKind::kRbd) {
    return absl::InvalidArgumentError(
        absl::StrCat(w.DebugString(), ": not a location of the rbd backend"));
  }
  if (w.pool.empty() || w.image.empty() ||
      w.image.find_first_of("/@") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rbd location '", w.pool, "/", w.image,
        "' needs a pool and an image name without '/' or '@'"));
  }
  return absl::OkStatus();
}

// An I/O context on one pool.
class IoCtx {
 public:
  explicit IoCtx(rados_ioctx_t io) : io_(io) {}
  IoCtx(IoCtx&& o) noexcept : io_(o.io_) { o.io_ = nullptr; }
  ~IoCtx() {
    if (io_ != nullptr) rados_ioctx_destroy(io_);
  }
  rados_ioctx_t get() const { return io_; }
  rados_ioctx_t release() {
    rados_ioctx_t io = io_;
    io_ = nullptr;
    return io;
  }

 private:
  rados_ioctx_t io_;
};

// An open image, closed on destruction.
class Image {
 public:
  Image() = default;
  Image(Image&& o) noexcept : img_(o.img_) { o.img_ = nullptr; }
  ~Image() {
    if (img_ != nullptr) rbd_close(img_);
  }
  rbd_image_t* out() { return &img_; }
  rbd_image_t get() const { return img_; }
  rbd_image_t release() {
    rbd_image_t img = img_;
    img_ = nullptr;
    return img;
  }

 private:
  rbd_image_t img_ = nullptr;
};

// Parses ceph's "mon host" ("v2:127.0.0.1:3300", "[v2:a:3300,v1:a:6789]",
// "a:6789 b:6789") into libvirt <host> entries, preferring msgr2.
std::vector<DiskSource::Host> ParseMonHosts(const std::string& mon_host) {
  std::vector<DiskSource::Host> hosts;
  for (absl::string_view group : absl::StrSplit(mon_host, absl::ByAnyChar(" ;"),
                                                absl::SkipEmpty())) {
    std::string g(group);
    g.erase(std::remove(g.begin(), g.end(), '['), g.end());
    g.erase(std::remove(g.begin(), g.end(), ']'), g.end());
    DiskSource::Host best;
    for (absl::string_view addr : absl::StrSplit(g, ',', absl::SkipEmpty())) {
      const bool v2 = absl::StartsWith(addr, "v2:");
      if (absl::StartsWith(addr, "v1:") || v2) addr.remove_prefix(3);
      const size_t colon = addr.rfind(':');
      DiskSource::Host h;
      h.name = std::string(addr.substr(0, colon));
      if (colon != absl::string_view::npos) {
        (void)absl::SimpleAtoi(addr.substr(colon + 1), &h.port);
      } else {
        h.name = std::string(addr);
      }
      if (best.name.empty() || v2) best = h;
    }
    if (!best.name.empty()) hosts.push_back(best);
  }
  return hosts;
}

class RbdBackendImpl final : public RbdBackend {
 public:
  RbdBackendImpl(rados_t cluster, RbdBackendOptions options)
      : cluster_(cluster), options_(std::move(options)) {}
  ~RbdBackendImpl() override { rados_shutdown(cluster_); }

  BackendKind kind() const override { return BackendKind::kRbd; }

  absl::Status Create(const VolumeLocation& w, uint64_t raw_bytes) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(w));
    VOLCRYPT_ASSIGN_OR_RETURN(IoCtx io, Pool(w));
    rbd_image_options_t opts;
    rbd_image_options_create(&opts);
    rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_FORMAT, 2);
    const int r = rbd_create4(io.get(), w.image.c_str(), raw_bytes, opts);
    rbd_image_options_destroy(opts);
    if (r == -EEXIST) {
      return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST,
                        absl::StrCat("rbd image ", Name(w), " already exists"));
    }
    if (r < 0) return RbdError(r, "create rbd image " + Name(w));
    return absl::OkStatus();
  }

  absl::Status Delete(const VolumeLocation& w) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(w));
    VOLCRYPT_ASSIGN_OR_RETURN(IoCtx io, Pool(w));
    const int r = rbd_remove(io.get(), w.image.c_str());
    if (r == -ENOTEMPTY) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, ENOTEMPTY,
                        absl::StrCat("rbd image ", Name(w), " has snapshots"));
    }
    if (r == -EBUSY) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, EBUSY,
                        absl::StrCat("rbd image ", Name(w),
                                     " is open elsewhere (watchers)"));
    }
    if (r < 0) return RbdError(r, "delete rbd image " + Name(w));
    return absl::OkStatus();
  }

  absl::Status Resize(const VolumeLocation& w, uint64_t raw_bytes) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(w));
    VOLCRYPT_ASSIGN_OR_RETURN(IoCtx io, Pool(w));
    VOLCRYPT_ASSIGN_OR_RETURN(Image img, Open(io, w, false));
    uint64_t size = 0;
    int r = rbd_get_size(img.get(), &size);
    if (r < 0) return RbdError(r, "size of rbd image " + Name(w));
    if (raw_bytes < size) {
      return ErrnoError(absl::StatusCode::kOutOfRange, EINVAL,
                        absl::StrCat("rbd image ", Name(w), ": shrinking from ",
                                     size, " to ", raw_bytes,
                                     " bytes is not supported"));
    }
    r = rbd_resize(img.get(), raw_bytes);
    if (r < 0) return RbdError(r, "resize rbd image " + Name(w));
    return absl::OkStatus();
  }

  absl::StatusOr<VolumeStat> Stat(const VolumeLocation& w) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(w));
    VOLCRYPT_ASSIGN_OR_RETURN(IoCtx io, Pool(w));
    VOLCRYPT_ASSIGN_OR_RETURN(Image img, Open(io, w, true));
    VolumeStat stat;
    const int r = rbd_get_size(img.get(), &stat.raw_bytes);
    if (r < 0) return RbdError(r, "size of rbd image " + Name(w));
    return stat;
  }

  absl::StatusOr<luks::ContentProbe> Probe(const VolumeLocation& w) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(w));
    VOLCRYPT_ASSIGN_OR_RETURN(IoCtx io, Pool(w));
    VOLCRYPT_ASSIGN_OR_RETURN(Image img, Open(io, w, true));
    return ProbeOpen(img, w);
  }

  absl::StatusOr<luks::ContentProbe> ProbeOpen(const Image& img,
                                               const VolumeLocation& w) {
    uint64_t size = 0;
    int r = rbd_get_size(img.get(), &size);
    if (r < 0) return RbdError(r, "size of rbd image " + Name(w));
    // libblkid probes a sparse in-memory copy of the image's first MiB, as
    // large as the image, so size-dependent probes see the real size.
    VOLCRYPT_ASSIGN_OR_RETURN(luks::LuksHeaderImage copy,
                              luks::LuksHeaderImage::Create(size));
    std::vector<uint8_t> buf(static_cast<size_t>(std::min(size, kProbeBytes)));
    VOLCRYPT_RETURN_IF_ERROR(ReadAt(img, w, 0, buf.data(), buf.size()));
    VOLCRYPT_RETURN_IF_ERROR(copy.Write(0, buf.data(), buf.size()));
    return luks::ProbeContent(copy.path());
  }

  absl::Status WriteLuksHeader(const VolumeLocation& w,
                               const luks::LuksHeaderImage& image,
                               uint32_t sector_size, bool force) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(w));
    // One read-write open for probe and write: each open is round trips.
    VOLCRYPT_ASSIGN_OR_RETURN(IoCtx io, Pool(w));
    VOLCRYPT_ASSIGN_OR_RETURN(Image img, Open(io, w, false));
    if (!force) {
      VOLCRYPT_ASSIGN_OR_RETURN(luks::ContentProbe probe, ProbeOpen(img, w));
      if (probe.kind != luks::ContentKind::kNoSignature) {
        return ErrnoError(absl::StatusCode::kFailedPrecondition, EEXIST,
                          absl::StrCat("rbd image ", Name(w), " already holds a '",
                                       probe.type,
                                       "' signature; refusing to write a LUKS header"));
      }
    }
    uint64_t size = 0;
    int r = rbd_get_size(img.get(), &size);
    if (r < 0) return RbdError(r, "size of rbd image " + Name(w));
    luks::VolumeIo vio;
    vio.read = [&](uint64_t off, void* buf, size_t len) {
      return ReadAt(img, w, off, buf, len);
    };
    vio.write = [&](uint64_t off, const void* buf, size_t len) {
      const ssize_t n = rbd_write(img.get(), off, len, static_cast<const char*>(buf));
      if (n < 0) return RbdError(static_cast<int>(n), "write rbd image " + Name(w));
      if (static_cast<size_t>(n) != len) {
        return ErrnoError(absl::StatusCode::kDataLoss, EIO,
                          "short write to rbd image " + Name(w));
      }
      return absl::OkStatus();
    };
    vio.sync = [&]() {
      const int f = rbd_flush(img.get());
      return f < 0 ? RbdError(f, "flush rbd image " + Name(w)) : absl::OkStatus();
    };
    return luks::WriteHeaderImage(vio, size, image, sector_size,
                                  "rbd image " + Name(w));
  }

  absl::StatusOr<luks::LuksHeaderImage> ReadLuksHeader(
      const VolumeLocation& w) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(w));
    VOLCRYPT_ASSIGN_OR_RETURN(IoCtx io, Pool(w));
    VOLCRYPT_ASSIGN_OR_RETURN(Image img, Open(io, w, true));
    uint64_t size = 0;
    int r = rbd_get_size(img.get(), &size);
    if (r < 0) return RbdError(r, "size of rbd image " + Name(w));
    absl::StatusOr<luks::LuksHeaderImage> header = luks::CopyHeaderRegion(
        [&](uint64_t off, void* buf, size_t len) { return ReadAt(img, w, off, buf, len); },
        size);
    if (!header.ok()) {
      return absl::Status(header.status().code(),
                          absl::StrCat("rbd image ", Name(w), ": ",
                                       header.status().message()));
    }
    return header;
  }

  absl::StatusOr<DiskSource> DescribeDisk(const VolumeLocation& w) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(w));
    DiskSource d;
    d.type = DiskSource::Type::kNetwork;
    d.pool = w.pool;
    d.image = w.image;
    char mon_host[1024] = {};
    if (rados_conf_get(cluster_, "mon_host", mon_host, sizeof(mon_host) - 1) == 0) {
      d.hosts = ParseMonHosts(mon_host);
    }
    // A client with a cephx key needs <auth>; AttachVolume refuses one
    // without the libvirt secret rather than let QEMU fail to connect.
    if (!options_.libvirt_auth_secret_uuid.empty() || ReadCephxKey(options_).ok()) {
      d.auth_username = options_.client_id;
      d.auth_secret_uuid = options_.libvirt_auth_secret_uuid;
    }
    return d;
  }

  absl::Status CreateSnapshot(const VolumeLocation& w,
                              const std::string& snapshot) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(w));
    VOLCRYPT_ASSIGN_OR_RETURN(IoCtx io, Pool(w));
    VOLCRYPT_ASSIGN_OR_RETURN(Image img, Open(io, w, false));
    const int r = rbd_snap_create(img.get(), snapshot.c_str());
    if (r < 0) return RbdError(r, "snapshot " + Name(w) + "@" + snapshot);
    return absl::OkStatus();
  }

  absl::Status RemoveSnapshot(const VolumeLocation& w,
                              const std::string& snapshot) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(w));
    VOLCRYPT_ASSIGN_OR_RETURN(IoCtx io, Pool(w));
    VOLCRYPT_ASSIGN_OR_RETURN(Image img, Open(io, w, false));
    const std::string what = "remove snapshot " + Name(w) + "@" + snapshot;
    int is_protected = 0;
    int r = rbd_snap_is_protected(img.get(), snapshot.c_str(), &is_protected);
    if (r < 0) return RbdError(r, what);
    if (is_protected) {
      r = rbd_snap_unprotect(img.get(), snapshot.c_str());
      if (r == -EBUSY) {
        return ErrnoError(absl::StatusCode::kFailedPrecondition, EBUSY,
                          what + ": clones still depend on it");
      }
      if (r < 0) return RbdError(r, what);
    }
    r = rbd_snap_remove(img.get(), snapshot.c_str());
    if (r < 0) return RbdError(r, what);
    return absl::OkStatus();
  }

  absl::StatusOr<bool> SnapshotExists(const VolumeLocation& w,
                                      const std::string& snapshot) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(w));
    VOLCRYPT_ASSIGN_OR_RETURN(IoCtx io, Pool(w));
    VOLCRYPT_ASSIGN_OR_RETURN(Image img, Open(io, w, true));
    bool exists = false;
    const int r = rbd_snap_exists(img.get(), snapshot.c_str(), &exists);
    if (r < 0) return RbdError(r, "snapshot " + Name(w) + "@" + snapshot);
    return exists;
  }

  absl::Status Clone(const VolumeLocation& parent, const std::string& snapshot,
                     const VolumeLocation& child) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(parent));
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(child));
    VOLCRYPT_ASSIGN_OR_RETURN(IoCtx pio, Pool(parent));
    VOLCRYPT_ASSIGN_OR_RETURN(IoCtx cio, Pool(child));
    const std::string what = "clone " + Name(parent) + "@" + snapshot + " to " + Name(child);
    {
      VOLCRYPT_ASSIGN_OR_RETURN(Image img, Open(pio, parent, false));
      int is_protected = 0;
      int r = rbd_snap_is_protected(img.get(), snapshot.c_str(), &is_protected);
      if (r < 0) return RbdError(r, what);
      if (!is_protected && (r = rbd_snap_protect(img.get(), snapshot.c_str())) < 0) {
        return RbdError(r, what);
      }
    }
    rbd_image_options_t opts;
    rbd_image_options_create(&opts);
    rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_FORMAT, 2);
    const int r = rbd_clone3(pio.get(), parent.image.c_str(), snapshot.c_str(),
                             cio.get(), child.image.c_str(), opts);
    rbd_image_options_destroy(opts);
    if (r == -EEXIST) {
      return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST,
                        absl::StrCat(what, ": ", Name(child), " already exists"));
    }
    if (r < 0) return RbdError(r, what);
    return absl::OkStatus();
  }

  absl::Status FormatNative(const VolumeLocation& w, LuksFormat format,
                            int key_bits, const SecretBytes& passphrase) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(w));
    VOLCRYPT_ASSIGN_OR_RETURN(luks::ContentProbe probe, Probe(w));
    if (probe.kind != luks::ContentKind::kNoSignature) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, EEXIST,
                        absl::StrCat("rbd image ", Name(w), " already holds a '",
                                     probe.type, "' signature"));
    }
    VOLCRYPT_ASSIGN_OR_RETURN(IoCtx io, Pool(w));
    VOLCRYPT_ASSIGN_OR_RETURN(Image img, Open(io, w, false));
    rbd_encryption_luks1_format_options_t opts = {};  // same layout for LUKS2
    opts.alg = key_bits == 128 ? RBD_ENCRYPTION_ALGORITHM_AES128
                               : RBD_ENCRYPTION_ALGORITHM_AES256;
    opts.passphrase = passphrase.char_data();
    opts.passphrase_size = passphrase.size();
    const int r = rbd_encryption_format(
        img.get(),
        format == LuksFormat::kLuks1 ? RBD_ENCRYPTION_FORMAT_LUKS1 : RBD_ENCRYPTION_FORMAT_LUKS2,
        &opts, sizeof(opts));
    if (r < 0) return RbdError(r, "librbd encryption format of " + Name(w));
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> VerifyNative(const VolumeLocation& w, LuksFormat format,
                                        const SecretBytes& passphrase) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(w));
    VOLCRYPT_ASSIGN_OR_RETURN(IoCtx io, Pool(w));
    VOLCRYPT_ASSIGN_OR_RETURN(Image img, Open(io, w, true));
    rbd_encryption_luks1_format_options_t opts = {};
    opts.passphrase = passphrase.char_data();
    opts.passphrase_size = passphrase.size();
    const int r = rbd_encryption_load(
        img.get(),
        format == LuksFormat::kLuks1 ? RBD_ENCRYPTION_FORMAT_LUKS1 : RBD_ENCRYPTION_FORMAT_LUKS2,
        &opts, sizeof(opts));
    if (r == -EPERM) {
      return ErrnoError(absl::StatusCode::kPermissionDenied, EPERM,
                        absl::StrCat("rbd image ", Name(w),
                                     ": librbd: no keyslot accepts the passphrase"));
    }
    if (r < 0) return RbdError(r, "librbd encryption load of " + Name(w));
    uint64_t size = 0;
    const int s = rbd_get_size(img.get(), &size);
    if (s < 0) return RbdError(s, "size of rbd image " + Name(w));
    return size;
  }

  absl::StatusOr<std::unique_ptr<RawVolume>> OpenRaw(const VolumeLocation& w,
                                                     bool writable) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(w));
    VOLCRYPT_ASSIGN_OR_RETURN(IoCtx io, Pool(w));
    VOLCRYPT_ASSIGN_OR_RETURN(Image img, Open(io, w, !writable));
    rados_ioctx_t raw_io = io.release();
    return WrapRbdImage(raw_io, img.release(), Name(w));
  }

 private:
  absl::StatusOr<IoCtx> Pool(const VolumeLocation& w) {
    rados_ioctx_t io = nullptr;
    const int r = rados_ioctx_create(cluster_, w.pool.c_str(), &io);
    if (r == -ENOENT) {
      return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                        absl::StrCat("rbd pool ", w.pool, " does not exist"));
    }
    if (r < 0) return RbdError(r, "open rbd pool " + w.pool);
    return IoCtx(io);
  }

  absl::StatusOr<Image> Open(const IoCtx& io, const VolumeLocation& w,
                             bool read_only) {
    Image img;
    const int r = read_only
                      ? rbd_open_read_only(io.get(), w.image.c_str(), img.out(), nullptr)
                      : rbd_open(io.get(), w.image.c_str(), img.out(), nullptr);
    if (r == -ENOENT) {
      return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                        absl::StrCat("rbd image ", Name(w), " does not exist"));
    }
    if (r < 0) return RbdError(r, "open rbd image " + Name(w));
    return img;
  }

  static absl::Status ReadAt(const Image& img, const VolumeLocation& w,
                             uint64_t off, void* buf, size_t len) {
    const ssize_t n = rbd_read(img.get(), off, len, static_cast<char*>(buf));
    if (n < 0) return RbdError(static_cast<int>(n), "read rbd image " + Name(w));
    if (static_cast<size_t>(n) != len) {
      return ErrnoError(absl::StatusCode::kOutOfRange, EIO,
                        absl::StrCat("rbd image ", Name(w), ": short read at ", off));
    }
    return absl::OkStatus();
  }

  rados_t cluster_;
  const RbdBackendOptions options_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RbdBackend>> RbdBackend::Connect(
    const RbdBackendOptions& options) {
  rados_t cluster = nullptr;
  int r = rados_create(&cluster, options.client_id.c_str());
  if (r < 0) return RbdError(r, "create rados client");
  auto fail = [&](int err, const std::string& what) {
    rados_shutdown(cluster);
    return RbdError(err, what);
  };
  r = rados_conf_read_file(cluster, options.ceph_conf.empty() ? nullptr
                                                              : options.ceph_conf.c_str());
  if (r < 0) {
    rados_shutdown(cluster);
    return ErrnoError(absl::StatusCode::kInvalidArgument, -r,
                      absl::StrCat("cannot read ceph config ", options.ceph_conf, ": ",
                                   strerror(-r)));
  }
  if (!options.keyring.empty() &&
      (r = rados_conf_set(cluster, "keyring", options.keyring.c_str())) < 0) {
    return fail(r, "set keyring");
  }
  const std::string timeout = std::to_string(options.timeout_seconds);
  for (const char* key : {"client_mount_timeout", "rados_mon_op_timeout",
                          "rados_osd_op_timeout"}) {
    if ((r = rados_conf_set(cluster, key, timeout.c_str())) < 0) {
      return fail(r, std::string("set ") + key);
    }
  }
  r = rados_connect(cluster);
  if (r < 0) {
    rados_shutdown(cluster);
    return ErrnoError(absl::StatusCode::kUnavailable, -r,
                      absl::StrCat("cannot reach the Ceph cluster of ", options.ceph_conf,
                                   " within ", options.timeout_seconds, " s: ",
                                   strerror(-r)));
  }
  return std::unique_ptr<RbdBackend>(new RbdBackendImpl(cluster, options));
}

}  // namespace volcrypt
