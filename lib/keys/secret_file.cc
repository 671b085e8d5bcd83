#include "lib/keys/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/util/fd_io.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"

namespace volcrypt {

absl::StatusOr<SecretBytes> ReadSecretFile(const std::string& path,
                                           size_t max_bytes) {
  VOLCRYPT_ASSIGN_OR_RETURN(ScopedFd fd,
                            OpenFile(path, O_RDONLY | O_NOFOLLOW));
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus("stat", path);
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    return ErrnoError(
        absl::StatusCode::kPermissionDenied, EACCES,
        absl::StrFormat("%s: secret file is accessible to group or others "
                        "(mode %04o); chmod 600 it",
                        path, st.st_mode & 07777));
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": secret file is larger than ", max_bytes, " bytes"));
  }
  SecretBytes bytes(static_cast<size_t>(st.st_size));
  VOLCRYPT_RETURN_IF_ERROR(
      ReadFully(fd.get(), 0, bytes.data(), bytes.size(), path));
  return bytes;
}

namespace {

absl::Status WriteAndSync(int fd, const SecretBytes& bytes,
                          const std::string& path) {
  VOLCRYPT_RETURN_IF_ERROR(
      WriteFully(fd, 0, bytes.data(), bytes.size(), path));
  if (fsync(fd) != 0) return ErrnoStatus("sync", path);
  return absl::OkStatus();
}

// Gives the unnamed file open at `fd` (O_TMPFILE) the name `base`.
int LinkUnnamed(int fd, int dir, const std::string& base) {
  const std::string self = absl::StrCat("/proc/self/fd/", fd);
  return linkat(AT_FDCWD, self.c_str(), dir, base.c_str(), AT_SYMLINK_FOLLOW);
}

}  // namespace

// The file appears under its name only whole, through link(), which fails
// if the name exists: a reader never sees it half-written, and of several
// processes creating it at once exactly one wins and the others get
// AlreadyExists and can read the winner's. An unnamed O_TMPFILE leaves
// nothing behind if the process is killed; file systems without it get a
// named temporary file next to `path`, removed right after the link.
absl::Status CreateSecretFile(const std::string& path,
                              const SecretBytes& bytes) {
  const size_t slash = path.find_last_of('/');
  const std::string dir_path =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  VOLCRYPT_ASSIGN_OR_RETURN(ScopedFd dir,
                            OpenFile(dir_path, O_RDONLY | O_DIRECTORY));
  ScopedFd fd(openat(dir.get(), ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600));
  int linked;
  if (fd.get() >= 0) {
    VOLCRYPT_RETURN_IF_ERROR(WriteAndSync(fd.get(), bytes, path));
    linked = LinkUnnamed(fd.get(), dir.get(), base);
  } else if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) {
    VOLCRYPT_ASSIGN_OR_RETURN(SecretBytes tag, SecretBytes::Random(8));
    const std::string tmp = absl::StrFormat(
        ".%s.tmp-%d-%s", base, getpid(),
        absl::string_view(HexPassphrase(tag).char_data(), 16));
    fd = ScopedFd(openat(dir.get(), tmp.c_str(),
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                         0600));
    if (fd.get() < 0) return ErrnoStatus("create", path);
    absl::Status s = WriteAndSync(fd.get(), bytes, path);
    linked = s.ok() ? linkat(dir.get(), tmp.c_str(), dir.get(), base.c_str(), 0)
                    : 0;
    const int link_errno = errno;
    unlinkat(dir.get(), tmp.c_str(), 0);
    if (!s.ok()) return s;
    errno = link_errno;
  } else {
    return ErrnoStatus("create", path);
  }
  if (linked != 0) return ErrnoStatus("create", path);
  if (fsync(dir.get()) != 0) return ErrnoStatus("sync directory of", path);
  return absl::OkStatus();
}

}  // namespace volcrypt
