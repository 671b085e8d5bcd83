#include "volcrypt/file_key_manager.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/keys/key_name_index.h"
#include "lib/keys/sealed_key_file.h"
#include "lib/keys/secret_file.h"
#include "lib/util/fd_io.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace {

constexpr char kKeySuffix[] = ".key";
constexpr char kCheckFile[] = ".master-check";
constexpr size_t kMaxKeyFileBytes = 4096;
constexpr char kTempPrefix[] = ".tmp-";
// A writer takes well under a second from its temp file's create to its
// rename; a minute leaves room for a stalled disk.

// Opens the key directory, creating it 0700 if missing, and refuses one that
// others could read or replace.
absl::StatusOr<ScopedFd> OpenKeyDirectory(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus("create key directory", dir);
  }
  VOLCRYPT_ASSIGN_OR_RETURN(ScopedFd fd,
                            OpenFile(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus("stat", dir);
  if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
    return ErrnoError(
        absl::StatusCode::kPermissionDenied, EACCES,
        absl::StrFormat("key directory %s must be owned by uid %d with mode "
                        "0700 (it is uid %d, mode %04o)",
                        dir, geteuid(), st.st_uid, st.st_mode & 07777));
  }
  return fd;
}

class FileKeyManager final : public KeyManager {
 public:
  FileKeyManager(std::string dir, ScopedFd dir_fd, SecretBytes master)
      : dir_(std::move(dir)), dir_fd_(std::move(dir_fd)), master_(std::move(master)) {}

  // Seals a check value on first use; afterwards proves the master key fits.
  absl::Status CheckMasterKey() {
    absl::StatusOr<std::string> check = ReadAt(kCheckFile);
    if (check.status().code() == absl::StatusCode::kNotFound) {
      SealedKeyHeader h{kFixedKeyId, "volcrypt-master-key-check", "none", 256};
      VOLCRYPT_ASSIGN_OR_RETURN(SecretBytes zeros, SecretBytes::Random(32));
      VOLCRYPT_ASSIGN_OR_RETURN(std::string sealed, SealKey(h, zeros, master_));
      return WriteAtomically(kCheckFile, sealed);
    }
    if (!check.ok()) return check.status();
    if (!UnsealKey(*check, kFixedKeyId, master_).ok()) {
      return ErrnoError(absl::StatusCode::kPermissionDenied, EACCES,
                        absl::StrCat("the master key does not open key "
                                     "directory ", dir_));
    }
    return absl::OkStatus();
  }

  // Removes what writers killed between their temp write and its rename
  // left behind: temp files that no process holds locked (a live writer, in
  // this process or another, holds its lock until the rename). A writer
  // caught between its create and its lock finds its name gone once it has
  // the lock, and starts again (WriteAtomically). Best effort: a file it
  // cannot judge stays.
  void RemoveStaleTemps() {
    const int fd = openat(dir_fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    struct DirCloser {
      void operator()(DIR* d) const { closedir(d); }
    };
    std::unique_ptr<DIR, DirCloser> d(fdopendir(fd));
    if (d == nullptr) {
      close(fd);
      return;
    }
    while (dirent* e = readdir(d.get())) {
      const std::string entry = e->d_name;
      if (!absl::StartsWith(entry, kTempPrefix)) continue;
      ScopedFd tmp(openat(dir_fd_.get(), entry.c_str(),
                          O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
      struct stat st;
      if (tmp.get() < 0 || fstat(tmp.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
          flock(tmp.get(), LOCK_EX | LOCK_NB) != 0) {
        continue;
      }
      unlinkat(dir_fd_.get(), entry.c_str(), 0);
    }
  }

  absl::StatusOr<std::string> StoreKey(const SecretBytes& key,
                                       const KeyRequest& request) override {
    VOLCRYPT_RETURN_IF_ERROR(CheckRequest(request));
    if (key.size() * 8 != static_cast<size_t>(request.bits)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "key has ", key.size() * 8, " bits, the request says ", request.bits));
    }
    return Store(key, request);
  }

  absl::StatusOr<SecretBytes> GetKey(const std::string& id) override {
    VOLCRYPT_RETURN_IF_ERROR(ValidateKeyId(id));
    VOLCRYPT_ASSIGN_OR_RETURN(std::string file, ReadAt(FileName(id)));
    return UnsealKey(file, id, master_);
  }

  absl::Status DeleteKey(const std::string& id) override {
    VOLCRYPT_RETURN_IF_ERROR(ValidateKeyId(id));
    if (unlinkat(dir_fd_.get(), FileName(id).c_str(), 0) != 0) {
      if (errno == ENOENT) return NotFound(id);
      return ErrnoStatus("delete key " + id, dir_);
    }
    if (fsync(dir_fd_.get()) != 0) return ErrnoStatus("sync", dir_);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> FindKeysByName(
      const std::string& name) override {
    // The name index reads only the key files it lacks and those with
    // this name (lib/keys/key_name_index.h); each answer is checked
    // against the file's own header.
    return names_.Find(name, [this](const std::string& id)
                                 -> absl::StatusOr<KeyNameIndex::Header> {
      VOLCRYPT_ASSIGN_OR_RETURN(std::string file, ReadAt(FileName(id)));
      VOLCRYPT_ASSIGN_OR_RETURN(SealedKeyHeader h, ParseSealedKeyHeader(file));
      return KeyNameIndex::Header{h.id, h.name};
    });
  }

 private:
  static std::string FileName(const std::string& id) {
    return absl::StrCat(id, kKeySuffix);
  }

  absl::Status NotFound(const std::string& id) const {
    return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                      absl::StrCat("key ", id, " not found in ", dir_));
  }

  static absl::Status CheckRequest(const KeyRequest& request) {
    VOLCRYPT_RETURN_IF_ERROR(ValidateKeyName(request.name));
    if (request.bits < 128 || request.bits > 512 || request.bits % 8 != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "key length ", request.bits, " bits is not supported (128 to 512)"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Store(const SecretBytes& key,
                                    const KeyRequest& request) {
    VOLCRYPT_ASSIGN_OR_RETURN(std::string id, NewUuid());
    SealedKeyHeader h{id, request.name, request.algorithm, request.bits};
    VOLCRYPT_ASSIGN_OR_RETURN(std::string sealed, SealKey(h, key, master_));
    VOLCRYPT_RETURN_IF_ERROR(WriteAtomically(FileName(id), sealed));
    names_.Record(id, request.name);  // after the key: a kill between costs a re-read
    return id;
  }

  absl::StatusOr<std::string> ReadAt(const std::string& name) const {
    const int fd = openat(dir_fd_.get(), name.c_str(),
                          O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) {
        return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                          absl::StrCat(name, " not found in ", dir_));
      }
      return ErrnoStatus("open " + name, dir_);
    }
    ScopedFd owned(fd);
    struct stat st;
    if (fstat(fd, &st) != 0) return ErrnoStatus("stat " + name, dir_);
    if (!S_ISREG(st.st_mode) || st.st_size > static_cast<off_t>(kMaxKeyFileBytes)) {
      return absl::DataLossError(absl::StrCat(dir_, "/", name,
                                              ": not a volcrypt key file"));
    }
    std::string data(static_cast<size_t>(st.st_size), '\0');
    VOLCRYPT_RETURN_IF_ERROR(
        ReadFully(fd, 0, data.data(), data.size(), dir_ + "/" + name));
    return data;
  }

  // temp file + fsync + rename + directory fsync: a whole file or none.
  absl::Status WriteAtomically(const std::string& name, const std::string& data) {
    std::string tmp;
    ScopedFd owned;
    // Held until the rename is done: RemoveStaleTemps() leaves a locked
    // temp file alone, whichever process is writing it. One that removed
    // this file before the lock was taken leaves it unlinked: start again.
    for (int attempt = 0; attempt < 3 && owned.get() < 0; ++attempt) {
      VOLCRYPT_ASSIGN_OR_RETURN(std::string tmp_id, NewUuid());
      tmp = absl::StrCat(kTempPrefix, tmp_id);
      ScopedFd made(openat(dir_fd_.get(), tmp.c_str(),
                           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (made.get() < 0) return ErrnoStatus("create " + tmp, dir_);
      flock(made.get(), LOCK_EX);
      struct stat st;
      if (fstat(made.get(), &st) == 0 && st.st_nlink > 0) owned = std::move(made);
    }
    if (owned.get() < 0) {
      return absl::UnavailableError("a temp file in " + dir_ + " kept being removed");
    }
    const int fd = owned.get();
    absl::Status s = WriteFully(fd, 0, data.data(), data.size(), dir_ + "/" + tmp);
    if (s.ok() && fsync(fd) != 0) s = ErrnoStatus("sync " + tmp, dir_);
    if (s.ok() && renameat(dir_fd_.get(), tmp.c_str(), dir_fd_.get(),
                           name.c_str()) != 0) {
      s = ErrnoStatus("rename " + tmp, dir_);
    }
    if (!s.ok()) {
      unlinkat(dir_fd_.get(), tmp.c_str(), 0);
      return s;
    }
    if (fsync(dir_fd_.get()) != 0) return ErrnoStatus("sync", dir_);
    return absl::OkStatus();
  }

  const std::string dir_;
  const ScopedFd dir_fd_;
  const SecretBytes master_;
  KeyNameIndex names_{dir_fd_.get(), dir_};
};

}  // namespace

absl::StatusOr<std::unique_ptr<KeyManager>> NewFileKeyManager(
    const std::string& directory, SecretBytes master_key, Logger* /*logger*/) {
  if (master_key.size() != kMasterKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "master key must be ", kMasterKeyBytes, " bytes, not ", master_key.size()));
  }
  VOLCRYPT_ASSIGN_OR_RETURN(ScopedFd fd, OpenKeyDirectory(directory));
  auto keys = std::make_unique<FileKeyManager>(directory, std::move(fd),
                                               std::move(master_key));
  VOLCRYPT_RETURN_IF_ERROR(keys->CheckMasterKey());
  keys->RemoveStaleTemps();
  return std::unique_ptr<KeyManager>(std::move(keys));
}

absl::StatusOr<SecretBytes> ReadMasterKeyFile(const std::string& path) {
  VOLCRYPT_ASSIGN_OR_RETURN(SecretBytes bytes, ReadSecretFile(path, 256));
  if (bytes.size() == kMasterKeyBytes) return bytes;
  absl::StatusOr<SecretBytes> hex =
      SecretFromHex(absl::string_view(bytes.char_data(), bytes.size()));
  if (hex.ok() && hex->size() == kMasterKeyBytes) return hex;
  return absl::InvalidArgumentError(absl::StrCat(
      path, ": a master key file holds 32 raw bytes or 64 hex characters"));
}

absl::StatusOr<SecretBytes> CreateMasterKeyFile(const std::string& path) {
  VOLCRYPT_ASSIGN_OR_RETURN(SecretBytes key, SecretBytes::Random(kMasterKeyBytes));
  VOLCRYPT_RETURN_IF_ERROR(CreateSecretFile(path, key));
  return key;
}

}  // namespace volcrypt
