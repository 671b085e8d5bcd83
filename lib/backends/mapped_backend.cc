#include "volcrypt/mapped_backend.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/util/fd_io.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace {

class MappedBackend final : public BlockBackend {
 public:
  BackendKind kind() const override { return BackendKind::kMapped; }

  absl::Status Create(const VolumeLocation& where,
                      uint64_t raw_bytes) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(where));
    const std::string& path = where.path;
    struct stat st;
    if (lstat(path.c_str(), &st) == 0) {
      if (!S_ISBLK(st.st_mode)) {
        return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST,
                          absl::StrCat(path, ": already exists"));
      }
      // An existing device is the volume; it only has to be large enough.
      VOLCRYPT_ASSIGN_OR_RETURN(VolumeStat stat, Stat(where));
      if (stat.raw_bytes < raw_bytes) {
        return ErrnoError(absl::StatusCode::kOutOfRange, ENOSPC,
                          absl::StrCat(path, ": block device has ",
                                       stat.raw_bytes, " bytes, ", raw_bytes,
                                       " needed"));
      }
      return absl::OkStatus();
    }
    VOLCRYPT_ASSIGN_OR_RETURN(
        ScopedFd fd,
        OpenFile(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0600));
    absl::Status s = SizeAndSync(fd.get(), raw_bytes, path);
    if (s.ok()) s = SyncParentDir(path);
    if (!s.ok()) unlink(path.c_str());  // nothing half-made is left behind
    return s;
  }

  absl::Status Delete(const VolumeLocation& where) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(where));
    VOLCRYPT_ASSIGN_OR_RETURN(VolumeStat stat, Stat(where));
    if (stat.block_device) return EraseHeaderRegion(where.path, stat.raw_bytes);
    if (unlink(where.path.c_str()) != 0) return ErrnoStatus("delete", where.path);
    return SyncParentDir(where.path);
  }

  absl::Status Resize(const VolumeLocation& where,
                      uint64_t raw_bytes) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(where));
    VOLCRYPT_ASSIGN_OR_RETURN(VolumeStat stat, Stat(where));
    if (raw_bytes < stat.raw_bytes) {
      return ErrnoError(absl::StatusCode::kOutOfRange, EINVAL,
                        absl::StrCat(where.path, ": shrinking from ",
                                     stat.raw_bytes, " to ", raw_bytes,
                                     " bytes is not supported"));
    }
    if (stat.block_device) {
      if (stat.raw_bytes == raw_bytes) return absl::OkStatus();
      return ErrnoError(absl::StatusCode::kOutOfRange, ENOSPC,
                        absl::StrCat(where.path, ": block device has ",
                                     stat.raw_bytes, " bytes; grow it to ",
                                     raw_bytes, " first"));
    }
    VOLCRYPT_ASSIGN_OR_RETURN(ScopedFd fd,
                              OpenFile(where.path, O_RDWR | O_NOFOLLOW));
    return SizeAndSync(fd.get(), raw_bytes, where.path);
  }

  absl::StatusOr<VolumeStat> Stat(const VolumeLocation& where) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(where));
    VOLCRYPT_ASSIGN_OR_RETURN(ScopedFd fd, OpenVolume(where.path, O_RDONLY));
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return ErrnoStatus("stat", where.path);
    VolumeStat stat;
    stat.block_device = S_ISBLK(st.st_mode);
    VOLCRYPT_ASSIGN_OR_RETURN(stat.raw_bytes, DeviceBytes(fd.get(), where.path));
    return stat;
  }

  absl::StatusOr<luks::ContentProbe> Probe(
      const VolumeLocation& where) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(where));
    return luks::ProbeContent(where.path);
  }

  absl::Status WriteLuksHeader(const VolumeLocation& where,
                               const luks::LuksHeaderImage& image,
                               uint32_t sector_size, bool force) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(where));
    VOLCRYPT_ASSIGN_OR_RETURN(ScopedFd fd, OpenVolume(where.path, O_RDWR));
    if (!force) {
      VOLCRYPT_ASSIGN_OR_RETURN(luks::ContentProbe probe,
                                luks::ProbeContent(where.path));
      if (probe.kind != luks::ContentKind::kNoSignature) {
        return ErrnoError(
            absl::StatusCode::kFailedPrecondition, EEXIST,
            absl::StrCat(where.path, ": already holds a '", probe.type,
                         "' signature; refusing to write a LUKS header"));
      }
    }
    VOLCRYPT_ASSIGN_OR_RETURN(uint64_t bytes, DeviceBytes(fd.get(), where.path));
    return luks::WriteHeaderImage(fd.get(), bytes, image, sector_size,
                                  where.path);
  }

  absl::StatusOr<luks::LuksHeaderImage> ReadLuksHeader(
      const VolumeLocation& where) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(where));
    VOLCRYPT_ASSIGN_OR_RETURN(ScopedFd fd, OpenVolume(where.path, O_RDONLY));
    VOLCRYPT_ASSIGN_OR_RETURN(uint64_t bytes, DeviceBytes(fd.get(), where.path));
    const int raw_fd = fd.get();
    const std::string& path = where.path;
    absl::StatusOr<luks::LuksHeaderImage> image = luks::CopyHeaderRegion(
        [raw_fd, &path](uint64_t offset, void* buf, size_t len) {
          return ReadFully(raw_fd, offset, buf, len, path);
        },
        bytes);
    if (!image.ok()) {
      return absl::Status(image.status().code(),
                          absl::StrCat(path, ": ", image.status().message()));
    }
    return image;
  }

  absl::StatusOr<DiskSource> DescribeDisk(
      const VolumeLocation& where) override {
    VOLCRYPT_ASSIGN_OR_RETURN(VolumeStat stat, Stat(where));
    DiskSource source;
    source.type = stat.block_device ? DiskSource::Type::kBlock
                                    : DiskSource::Type::kFile;
    source.path = where.path;
    return source;
  }

 private:
  static absl::Status CheckLocation(const VolumeLocation& where) {
    if (where.kind != BackendKind::kMapped) {
      return absl::InvalidArgumentError(absl::StrCat(
          where.DebugString(), ": not a location of the mapped backend"));
    }
    if (where.path.empty() || where.path[0] != '/') {
      return absl::InvalidArgumentError(absl::StrCat(
          "volume path '", where.path, "' is not an absolute path"));
    }
    return absl::OkStatus();
  }

  // Opens an existing volume: a regular file (not through a symlink) or a
  // block device (device nodes are often reached through /dev symlinks).
  static absl::StatusOr<ScopedFd> OpenVolume(const std::string& path,
                                             int flags) {
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return ErrnoStatus("stat", path);
    if (S_ISLNK(st.st_mode) &&
        (stat(path.c_str(), &st) != 0 || !S_ISBLK(st.st_mode))) {
      return ErrnoError(absl::StatusCode::kInvalidArgument, ELOOP,
                        absl::StrCat(path, ": a symlink to something other "
                                           "than a block device"));
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
      return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                        absl::StrCat(path, ": not a regular file or a block "
                                           "device"));
    }
    return OpenFile(path, flags);
  }

  static absl::Status SizeAndSync(int fd, uint64_t raw_bytes,
                                  const std::string& path) {
    if (ftruncate(fd, static_cast<off_t>(raw_bytes)) != 0) {
      return ErrnoStatus("set size", path);
    }
    if (fsync(fd) != 0) return ErrnoStatus("sync", path);
    return absl::OkStatus();
  }

  // Zeroes the LUKS header region of a block device (crypto-erase). A device
  // without a LUKS header is left as it is.
  absl::Status EraseHeaderRegion(const std::string& path, uint64_t bytes) {
    absl::StatusOr<luks::LuksHeaderImage> header =
        ReadLuksHeader(VolumeLocation::Path(path));
    if (!header.ok()) {
      return header.status().code() == absl::StatusCode::kInvalidArgument
                 ? absl::OkStatus()
                 : header.status();
    }
    VOLCRYPT_ASSIGN_OR_RETURN(ScopedFd fd, OpenVolume(path, O_RDWR));
    const uint64_t region = std::min(header->size(), bytes);
    std::vector<uint8_t> zeros(1 << 20);
    for (uint64_t off = 0; off < region; off += zeros.size()) {
      const size_t len =
          static_cast<size_t>(std::min<uint64_t>(zeros.size(), region - off));
      VOLCRYPT_RETURN_IF_ERROR(WriteFully(fd.get(), off, zeros.data(), len, path));
    }
    if (fdatasync(fd.get()) != 0) return ErrnoStatus("sync", path);
    return absl::OkStatus();
  }
};

}  // namespace

std::unique_ptr<BlockBackend> NewMappedBackend() {
  return std::make_unique<MappedBackend>();
}

}  // namespace volcrypt
