// Formatting: a header image is built in memory, then written to the target.
// Building in memory lets every backend (host path or RBD image) receive the
// same bytes, and lets the writer order its writes for crash safety.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <cerrno>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/luks/crypt_device.h"
#include "lib/luks/luks1_writer.h"
#include "lib/util/fd_io.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"
#include "volcrypt/luks.h"
#include "volcrypt/size_rule.h"

namespace volcrypt {
namespace luks {
namespace {

constexpr uint64_t kSectorBytes = 512;
constexpr size_t kChunkBytes = 64 * 1024;
// LUKS2's keyslots area: room for 16 keyslots of a 512-bit key (256 KiB
// each), ample for rotation. libcryptsetup's default fills the whole 16 MiB
// before the payload and wipes it at format, 4x slower for no use.
constexpr uint64_t kLuks2KeyslotsAreaBytes = 4 << 20;

// A read-only block device accepts O_RDWR and fails only at the first write;
// say so before writing anything.
absl::Status CheckWritable(int fd, const std::string& what) {
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoStatus("stat", what);
  int read_only = 0;
  if (S_ISBLK(st.st_mode) && ioctl(fd, BLKROGET, &read_only) == 0 &&
      read_only != 0) {
    return ErrnoError(absl::StatusCode::kPermissionDenied, EROFS,
                      absl::StrCat(what, ": block device is read-only"));
  }
  return absl::OkStatus();
}

absl::Status FormatImage(CryptDevice& dev, const EncryptionSpec& spec,
                         const SecretBytes& passphrase) {
  const uint64_t offset_sectors = PayloadOffsetBytes(spec) / kSectorBytes;
  const std::string cipher = CipherName(spec);
  const std::string mode = CipherMode(spec);
  const char* type =
      spec.format == LuksFormat::kLuks1 ? CRYPT_LUKS1 : CRYPT_LUKS2;
  VOLCRYPT_RETURN_IF_ERROR(ApplyKdfPolicy(dev, spec.kdf, type));
  int r;
  if (spec.format == LuksFormat::kLuks1) {
    crypt_params_luks1 params = {};
    params.hash = "sha256";
    params.data_alignment = offset_sectors;
    r = crypt_format(dev.get(), CRYPT_LUKS1, cipher.c_str(), mode.c_str(),
                     nullptr, nullptr, VolumeKeyBytes(spec), &params);
  } else {
    crypt_params_luks2 params = {};
    params.sector_size = EffectiveSectorSize(spec);
    r = crypt_set_data_offset(dev.get(), offset_sectors);
    if (r < 0) return dev.Error(r, "set LUKS2 data offset");
    r = crypt_set_metadata_size(dev.get(), 0, kLuks2KeyslotsAreaBytes);
    if (r < 0) return dev.Error(r, "set LUKS2 keyslots area size");
    r = crypt_format(dev.get(), CRYPT_LUKS2, cipher.c_str(), mode.c_str(),
                     nullptr, nullptr, VolumeKeyBytes(spec), &params);
  }
  if (r < 0) return dev.Error(r, "format LUKS header");
  r = crypt_keyslot_add_by_volume_key(dev.get(), 0, nullptr, 0,
                                      passphrase.char_data(),
                                      passphrase.size());
  if (r < 0) return dev.Error(r, "add keyslot");
  if (crypt_get_data_offset(dev.get()) != offset_sectors) {
    return absl::InternalError(absl::StrCat(
        "libcryptsetup put the payload at sector ",
        crypt_get_data_offset(dev.get()), ", expected ", offset_sectors));
  }
  return absl::OkStatus();
}

absl::Status CheckHeaderFits(uint64_t device_bytes, const LuksHeaderImage& image,
                             uint32_t sector_size, const std::string& what) {
  if (device_bytes < image.size() + sector_size) {
    return ErrnoError(
        absl::StatusCode::kOutOfRange, ENOSPC,
        absl::StrCat(what, ": ", device_bytes, " bytes cannot hold a ",
                     image.size(), "-byte LUKS header and one ", sector_size,
                     "-byte sector of data"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LuksHeaderImage> BuildHeaderImage(
    const EncryptionSpec& spec, const SecretBytes& passphrase) {
  VOLCRYPT_RETURN_IF_ERROR(ValidateSpec(spec));
  if (passphrase.empty()) {
    return absl::InvalidArgumentError("passphrase is empty");
  }
  VOLCRYPT_ASSIGN_OR_RETURN(LuksHeaderImage image,
                            LuksHeaderImage::Create(PayloadOffsetBytes(spec)));
  // The common create's header without libcryptsetup (luks1_writer.h).
  if (OwnLuks1WriterHandles(spec)) {
    VOLCRYPT_RETURN_IF_ERROR(WriteLuks1Image(spec, passphrase, image));
    return image;
  }
  VOLCRYPT_ASSIGN_OR_RETURN(std::unique_ptr<CryptDevice> dev,
                            CryptDevice::Open(image.path()));
  VOLCRYPT_RETURN_IF_ERROR(FormatImage(*dev, spec, passphrase));
  return image;
}

namespace {

// The image's bytes, mapped from its memfd: the writes go straight from the
// image's own pages, with no copy of it.
class ImageView {
 public:
  static absl::StatusOr<ImageView> Map(const LuksHeaderImage& image) {
    void* p = mmap(nullptr, static_cast<size_t>(image.size()), PROT_READ, MAP_SHARED,
                   image.fd(), 0);
    if (p == MAP_FAILED) return ErrnoStatus("map", "LUKS header image");
    return ImageView(static_cast<const uint8_t*>(p), static_cast<size_t>(image.size()));
  }
  ImageView(ImageView&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(o.size_) {}
  ImageView& operator=(ImageView&&) = delete;
  ~ImageView() {
    if (data_ != nullptr) munmap(const_cast<uint8_t*>(data_), size_);
  }
  const uint8_t* data() const { return data_; }

 private:
  ImageView(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  const uint8_t* data_;
  size_t size_;
};

bool AllZero(const uint8_t* p, size_t len) {
  return len == 0 || (p[0] == 0 && std::memcmp(p, p + 1, len - 1) == 0);
}

// `blank`: the target's first image.size() bytes are known to hold nothing
// (a hole: a file this create just made, or any sparse file). Then nothing
// is read back, and one sync ends the write: there is no old header that a
// crash between the keyslots and the phdr could destroy, and a create is
// not reported done, nor its record marked so, before that sync returns
// (a crash before it leaves a record Reconcile rolls back). On any other
// target the target is read and compared, and the keyslots are synced
// before the phdr is written: two barriers, as a rewrite needs.
absl::Status WriteImage(const VolumeIo& io, const LuksHeaderImage& image, bool blank) {
  const size_t size = static_cast<size_t>(image.size());
  VOLCRYPT_ASSIGN_OR_RETURN(ImageView view, ImageView::Map(image));
  const uint8_t* want = view.data();
  // Whole-region read: one round trip on RBD.
  std::vector<uint8_t> have;
  if (!blank) {
    have.resize(size);
    VOLCRYPT_RETURN_IF_ERROR(io.read(0, have.data(), size));
  }
  // A chunk must be written if it differs from what is there.
  auto dirty = [&](size_t chunk) {
    const size_t off = chunk * kChunkBytes;
    const size_t len = std::min(kChunkBytes, size - off);
    return blank ? !AllZero(want + off, len)
                 : std::memcmp(want + off, have.data() + off, len) != 0;
  };
  const size_t chunks = (size + kChunkBytes - 1) / kChunkBytes;
  // Runs of dirty chunks after the first, then chunk 0 (both LUKS2 binary
  // headers, the LUKS1 phdr) once the keyslots are written.
  for (size_t c = 1; c < chunks;) {
    if (!dirty(c)) {
      ++c;
      continue;
    }
    size_t end = c;
    while (end < chunks && dirty(end)) ++end;
    const size_t off = c * kChunkBytes;
    const size_t len = std::min(end * kChunkBytes, size) - off;
    VOLCRYPT_RETURN_IF_ERROR(io.write(off, want + off, len));
    c = end;
  }
  if (dirty(0)) {
    // Rewrite: the keyslots are durable before a phdr that names them
    // replaces the old one, so a crash leaves one usable header.
    if (!blank) VOLCRYPT_RETURN_IF_ERROR(io.sync());
    VOLCRYPT_RETURN_IF_ERROR(io.write(0, want, std::min(kChunkBytes, size)));
  }
  // The header is durable before the caller records the volume as made.
  return io.sync();
}

// Whether the first `len` bytes of the regular file at `fd` are a hole.
// A file system without SEEK_DATA reports data everywhere: false.
bool RegionIsHole(int fd, uint64_t len) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  const off_t data = lseek(fd, 0, SEEK_DATA);
  if (data < 0) return errno == ENXIO;  // no data at all
  return static_cast<uint64_t>(data) >= len;
}

}  // namespace

absl::Status WriteHeaderImage(const VolumeIo& io, uint64_t device_bytes,
                              const LuksHeaderImage& image,
                              uint32_t sector_size, const std::string& what) {
  VOLCRYPT_RETURN_IF_ERROR(CheckHeaderFits(device_bytes, image, sector_size, what));
  return WriteImage(io, image, /*blank=*/false);
}

absl::Status WriteHeaderImage(int fd, uint64_t device_bytes,
                              const LuksHeaderImage& image,
                              uint32_t sector_size, const std::string& what) {
  VOLCRYPT_RETURN_IF_ERROR(CheckWritable(fd, what));
  VOLCRYPT_RETURN_IF_ERROR(CheckHeaderFits(device_bytes, image, sector_size, what));
  VolumeIo io;
  io.read = [fd, &what](uint64_t off, void* buf, size_t len) {
    return ReadFully(fd, off, buf, len, what);
  };
  io.write = [fd, &what](uint64_t off, const void* buf, size_t len) {
    return WriteFully(fd, off, buf, len, what);
  };
  io.sync = [fd, &what]() {
    return fdatasync(fd) == 0 ? absl::OkStatus() : ErrnoStatus("sync", what);
  };
  return WriteImage(io, image, RegionIsHole(fd, image.size()));
}

absl::Status FormatPath(const std::string& path, const EncryptionSpec& spec,
                        const SecretBytes& passphrase,
                        const FormatOptions& options) {
  VOLCRYPT_RETURN_IF_ERROR(ValidateSpec(spec));
  VOLCRYPT_ASSIGN_OR_RETURN(ScopedFd fd, OpenFile(path, O_RDWR));
  VOLCRYPT_ASSIGN_OR_RETURN(uint64_t device_bytes, DeviceBytes(fd.get(), path));
  const uint32_t sector_size = EffectiveSectorSize(spec);
  if (device_bytes < PayloadOffsetBytes(spec) + sector_size) {
    return ErrnoError(
        absl::StatusCode::kOutOfRange, ENOSPC,
        absl::StrCat(path, ": ", device_bytes, " bytes cannot hold a ",
                     PayloadOffsetBytes(spec), "-byte ",
                     LuksFormatName(spec.format), " header and one ",
                     sector_size, "-byte sector of data"));
  }
  if (!options.force) {
    VOLCRYPT_ASSIGN_OR_RETURN(ContentProbe probe, ProbeContent(path));
    if (probe.kind != ContentKind::kNoSignature) {
      return ErrnoError(
          absl::StatusCode::kFailedPrecondition, EEXIST,
          absl::StrCat(path, ": already holds a '", probe.type,
                       "' signature; refusing to format (force to overwrite)"));
    }
  }
  VOLCRYPT_ASSIGN_OR_RETURN(LuksHeaderImage image,
                            BuildHeaderImage(spec, passphrase));
  return WriteHeaderImage(fd.get(), device_bytes, image, sector_size, path);
}

}  // namespace luks
}  // namespace volcrypt
