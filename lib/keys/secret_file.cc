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

absl::Status CreateSecretFile(const std::string& path,
                              const SecretBytes& bytes) {
  VOLCRYPT_ASSIGN_OR_RETURN(
      ScopedFd fd, OpenFile(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
                            0600));
  absl::Status s = WriteFully(fd.get(), 0, bytes.data(), bytes.size(), path);
  if (s.ok() && fsync(fd.get()) != 0) s = ErrnoStatus("sync", path);
  if (s.ok()) s = SyncParentDir(path);
  if (!s.ok()) unlink(path.c_str());
  return s;
}

}  // namespace volcrypt
