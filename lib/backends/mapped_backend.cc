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

// Every access goes through a descriptor of the volume's parent directory
// and openat() on the final component, never through the path a second time:
// whoever can write to the parent directory can swap the name for a symlink
// at any moment, and a check made on the path (lstat, then open) proves
// nothing about what the open reaches. The parent path itself is followed:
// the operator chose it, and only its last component is the volume's.
struct VolumeName {
  ScopedFd dir;
  std::string base;
};

absl::StatusOr<VolumeName> OpenParent(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  VolumeName name;
  name.base = path.substr(slash + 1);
  if (name.base.empty() || name.base == "." || name.base == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("volume path '", path, "' does not name a file"));
  }
  VOLCRYPT_ASSIGN_OR_RETURN(
      name.dir, OpenFile(slash == 0 ? "/" : path.substr(0, slash),
                         O_RDONLY | O_DIRECTORY));
  return name;
}

int OpenAt(int dir, const std::string& base, int flags, mode_t mode = 0) {
  int fd;
  do {
    fd = openat(dir, base.c_str(), flags | O_CLOEXEC | O_NOCTTY, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// Opens an existing volume: a regular file, never through a symlink, or a
// block device, which may be reached through a symlink (/dev/disk/by-id/...).
// What a symlink leads to is judged on the opened descriptor, so a swap
// between a check and the open cannot slip anything else in. O_NONBLOCK keeps
// a FIFO swapped in from hanging the open; it is cleared before returning.
absl::StatusOr<ScopedFd> OpenVolumeAt(const VolumeName& name, int flags,
                                      const std::string& path) {
  const int open_flags = flags | O_NONBLOCK;
  ScopedFd fd(OpenAt(name.dir.get(), name.base, open_flags | O_NOFOLLOW));
  bool via_symlink = false;
  if (fd.get() < 0 && errno == ELOOP) {
    fd = ScopedFd(OpenAt(name.dir.get(), name.base, open_flags));
    via_symlink = true;
  }
  if (fd.get() < 0) return ErrnoStatus("open", path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus("stat", path);
  if (via_symlink && !S_ISBLK(st.st_mode)) {
    return ErrnoError(absl::StatusCode::kInvalidArgument, ELOOP,
                      absl::StrCat(path, ": a symlink to something other "
                                         "than a block device"));
  }
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                      absl::StrCat(path, ": not a regular file or a block "
                                         "device"));
  }
  const int status_flags = fcntl(fd.get(), F_GETFL);
  if (status_flags < 0 ||
      fcntl(fd.get(), F_SETFL, status_flags & ~O_NONBLOCK) != 0) {
    return ErrnoStatus("set flags", path);
  }
  return fd;
}

absl::StatusOr<ScopedFd> OpenVolume(const std::string& path, int flags) {
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeName name, OpenParent(path));
  return OpenVolumeAt(name, flags, path);
}

// True if `base` in `dir` is, without following a symlink, the very file
// open at `fd`: the name was not swapped since the open.
bool StillNames(const VolumeName& name, int fd) {
  struct stat by_name, by_fd;
  return fstatat(name.dir.get(), name.base.c_str(), &by_name,
                 AT_SYMLINK_NOFOLLOW) == 0 &&
         fstat(fd, &by_fd) == 0 && S_ISREG(by_name.st_mode) &&
         by_name.st_dev == by_fd.st_dev && by_name.st_ino == by_fd.st_ino;
}

absl::Status SizeAndSync(int fd, uint64_t raw_bytes, const std::string& path) {
  if (ftruncate(fd, static_cast<off_t>(raw_bytes)) != 0) {
    return ErrnoStatus("set size", path);
  }
  if (fsync(fd) != 0) return ErrnoStatus("sync", path);
  return absl::OkStatus();
}

absl::Status SyncDirFd(const VolumeName& name, const std::string& path) {
  if (fsync(name.dir.get()) != 0) return ErrnoStatus("sync directory of", path);
  return absl::OkStatus();
}

absl::StatusOr<VolumeStat> StatFd(int fd, const std::string& path) {
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoStatus("stat", path);
  VolumeStat stat;
  stat.block_device = S_ISBLK(st.st_mode);
  VOLCRYPT_ASSIGN_OR_RETURN(stat.raw_bytes, DeviceBytes(fd, path));
  return stat;
}

absl::StatusOr<luks::LuksHeaderImage> ReadHeaderFd(int fd,
                                                   const std::string& path) {
  VOLCRYPT_ASSIGN_OR_RETURN(uint64_t bytes, DeviceBytes(fd, path));
  absl::StatusOr<luks::LuksHeaderImage> image = luks::CopyHeaderRegion(
      [fd, &path](uint64_t offset, void* buf, size_t len) {
        return ReadFully(fd, offset, buf, len, path);
      },
      bytes);
  if (!image.ok()) {
    return absl::Status(image.status().code(),
                        absl::StrCat(path, ": ", image.status().message()));
  }
  return image;
}

// Zeroes the LUKS header region of the block device open at `fd`
// (crypto-erase). A device without a LUKS header is left as it is.
absl::Status EraseHeaderRegion(int fd, const std::string& path,
                               uint64_t bytes) {
  absl::StatusOr<luks::LuksHeaderImage> header = ReadHeaderFd(fd, path);
  if (!header.ok()) {
    return header.status().code() == absl::StatusCode::kInvalidArgument
               ? absl::OkStatus()
               : header.status();
  }
  const uint64_t region = std::min(header->size(), bytes);
  std::vector<uint8_t> zeros(1 << 20);
  for (uint64_t off = 0; off < region; off += zeros.size()) {
    const size_t len =
        static_cast<size_t>(std::min<uint64_t>(zeros.size(), region - off));
    VOLCRYPT_RETURN_IF_ERROR(WriteFully(fd, off, zeros.data(), len, path));
  }
  if (fdatasync(fd) != 0) return ErrnoStatus("sync", path);
  return absl::OkStatus();
}

class MappedBackend final : public BlockBackend {
 public:
  BackendKind kind() const override { return BackendKind::kMapped; }

  absl::Status Create(const VolumeLocation& where,
                      uint64_t raw_bytes) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(where));
    const std::string& path = where.path;
    VOLCRYPT_ASSIGN_OR_RETURN(VolumeName name, OpenParent(path));
    ScopedFd fd(OpenAt(name.dir.get(), name.base,
                       O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0600));
    if (fd.get() < 0) {
      if (errno != EEXIST) return ErrnoStatus("create", path);
      return UseExistingDevice(name, path, raw_bytes);
    }
    // Both syncs keep one promise: once Create returns, the file exists at
    // its full size after a crash, so Reconcile finds and removes what a
    // failed create made, and a --defer-format volume (no header write
    // follows to sync it) keeps its size.
    absl::Status s = SizeAndSync(fd.get(), raw_bytes, path);
    if (s.ok()) s = SyncDirFd(name, path);
    // Nothing half-made is left behind, and only what this call made goes.
    if (!s.ok() && StillNames(name, fd.get())) {
      unlinkat(name.dir.get(), name.base.c_str(), 0);
    }
    return s;
  }

  absl::Status Delete(const VolumeLocation& where) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(where));
    VOLCRYPT_ASSIGN_OR_RETURN(VolumeName name, OpenParent(where.path));
    VOLCRYPT_ASSIGN_OR_RETURN(ScopedFd fd,
                              OpenVolumeAt(name, O_RDWR, where.path));
    VOLCRYPT_ASSIGN_OR_RETURN(VolumeStat stat, StatFd(fd.get(), where.path));
    if (stat.block_device) {
      return EraseHeaderRegion(fd.get(), where.path, stat.raw_bytes);
    }
    if (!StillNames(name, fd.get())) {
      return ErrnoError(absl::StatusCode::kAborted, EAGAIN,
                        absl::StrCat(where.path, ": replaced while being "
                                                 "deleted; left alone"));
    }
    if (unlinkat(name.dir.get(), name.base.c_str(), 0) != 0) {
      return ErrnoStatus("delete", where.path);
    }
    return SyncDirFd(name, where.path);
  }

  absl::Status Resize(const VolumeLocation& where,
                      uint64_t raw_bytes) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(where));
    VOLCRYPT_ASSIGN_OR_RETURN(ScopedFd fd, OpenVolume(where.path, O_RDWR));
    VOLCRYPT_ASSIGN_OR_RETURN(VolumeStat stat, StatFd(fd.get(), where.path));
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
    return SizeAndSync(fd.get(), raw_bytes, where.path);
  }

  absl::StatusOr<VolumeStat> Stat(const VolumeLocation& where) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(where));
    VOLCRYPT_ASSIGN_OR_RETURN(ScopedFd fd, OpenVolume(where.path, O_RDONLY));
    return StatFd(fd.get(), where.path);
  }

  absl::StatusOr<luks::ContentProbe> Probe(
      const VolumeLocation& where) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(where));
    VOLCRYPT_ASSIGN_OR_RETURN(ScopedFd fd, OpenVolume(where.path, O_RDONLY));
    return luks::ProbeContentFd(fd.get(), where.path);
  }

  absl::Status WriteLuksHeader(const VolumeLocation& where,
                               const luks::LuksHeaderImage& image,
                               uint32_t sector_size, bool force) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckLocation(where));
    VOLCRYPT_ASSIGN_OR_RETURN(ScopedFd fd, OpenVolume(where.path, O_RDWR));
    if (!force) {
      VOLCRYPT_ASSIGN_OR_RETURN(luks::ContentProbe probe,
                                luks::ProbeContentFd(fd.get(), where.path));
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
    return ReadHeaderFd(fd.get(), where.path);
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

  // Create on a name that exists: only a block device itself (never a
  // symlink, whatever it leads to) may be used, and it must be large enough.
  static absl::Status UseExistingDevice(const VolumeName& name,
                                        const std::string& path,
                                        uint64_t raw_bytes) {
    ScopedFd fd(OpenAt(name.dir.get(), name.base,
                       O_RDONLY | O_NOFOLLOW | O_NONBLOCK));
    struct stat st;
    if (fd.get() < 0 || fstat(fd.get(), &st) != 0 || !S_ISBLK(st.st_mode)) {
      return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST,
                        absl::StrCat(path, ": already exists"));
    }
    VOLCRYPT_ASSIGN_OR_RETURN(uint64_t bytes, DeviceBytes(fd.get(), path));
    if (bytes < raw_bytes) {
      return ErrnoError(absl::StatusCode::kOutOfRange, ENOSPC,
                        absl::StrCat(path, ": block device has ", bytes,
                                     " bytes, ", raw_bytes, " needed"));
    }
    return absl::OkStatus();
  }
};

}  // namespace

std::unique_ptr<BlockBackend> NewMappedBackend() {
  return std::make_unique<MappedBackend>();
}

}  // namespace volcrypt
