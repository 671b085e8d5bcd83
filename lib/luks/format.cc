// Formatting: a header image is built in memory, then written to the target.
// Building in memory lets every backend (host path or RBD image) receive the
// same bytes, and lets the writer order its writes for crash safety.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <cerrno>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/luks/crypt_device.h"
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

}  // namespace

absl::StatusOr<LuksHeaderImage> BuildHeaderImage(
    const EncryptionSpec& spec, const SecretBytes& passphrase) {
  VOLCRYPT_RETURN_IF_ERROR(ValidateSpec(spec));
  if (passphrase.empty()) {
    return absl::InvalidArgumentError("passphrase is empty");
  }
  VOLCRYPT_ASSIGN_OR_RETURN(LuksHeaderImage image,
                            LuksHeaderImage::Create(PayloadOffsetBytes(spec)));
  VOLCRYPT_ASSIGN_OR_RETURN(std::unique_ptr<CryptDevice> dev,
                            CryptDevice::Open(image.path()));
  VOLCRYPT_RETURN_IF_ERROR(FormatImage(*dev, spec, passphrase));
  return image;
}

absl::Status WriteHeaderImage(const VolumeIo& io, uint64_t device_bytes,
                              const LuksHeaderImage& image,
                              uint32_t sector_size, const std::string& what) {
  if (device_bytes < image.size() + sector_size) {
    return ErrnoError(
        absl::StatusCode::kOutOfRange, ENOSPC,
        absl::StrCat(what, ": ", device_bytes, " bytes cannot hold a ",
                     image.size(), "-byte LUKS header and one ", sector_size,
                     "-byte sector of data"));
  }
  // Whole-region buffers: one large read of the target and a few large
  // writes, since every call is a network round trip on RBD.
  const size_t size = static_cast<size_t>(image.size());
  std::vector<uint8_t> want(size), have(size);
  VOLCRYPT_RETURN_IF_ERROR(image.Read(0, want.data(), size));
  VOLCRYPT_RETURN_IF_ERROR(io.read(0, have.data(), size));
  // A chunk must be written if it differs from what is there.
  auto dirty = [&](size_t chunk) {
    const size_t off = chunk * kChunkBytes;
    const size_t len = std::min(kChunkBytes, size - off);
    return std::memcmp(want.data() + off, have.data() + off, len) != 0;
  };
  const size_t chunks = (size + kChunkBytes - 1) / kChunkBytes;
  // Runs of dirty chunks after the first, then chunk 0 (both LUKS2 binary
  // headers, the LUKS1 phdr) once the keyslots are durable.
  for (size_t c = 1; c < chunks;) {
    if (!dirty(c)) {
      ++c;
      continue;
    }
    size_t end = c;
    while (end < chunks && dirty(end)) ++end;
    const size_t off = c * kChunkBytes;
    const size_t len = std::min(end * kChunkBytes, size) - off;
    VOLCRYPT_RETURN_IF_ERROR(io.write(off, want.data() + off, len));
    c = end;
  }
  if (dirty(0)) {
    VOLCRYPT_RETURN_IF_ERROR(io.sync());
    VOLCRYPT_RETURN_IF_ERROR(io.write(0, want.data(), std::min(kChunkBytes, size)));
  }
  return io.sync();
}

absl::Status WriteHeaderImage(int fd, uint64_t device_bytes,
                              const LuksHeaderImage& image,
                              uint32_t sector_size, const std::string& what) {
  VOLCRYPT_RETURN_IF_ERROR(CheckWritable(fd, what));
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
  return WriteHeaderImage(io, device_bytes, image, sector_size, what);
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
