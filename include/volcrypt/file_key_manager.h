// File: volcrypt/file_key_manager.h
// -----------------------------------------------------------------------------
// FileKeyManager, the embedded default: one file per key in a private
// directory, each key sealed with AES-256-GCM under a 32-byte master key, so
// the directory alone reveals nothing.
//
//   - The directory is created 0700 if missing; an existing one must be a
//     real directory (not a symlink) owned by this user with no group or
//     other access, else PermissionDenied.
//   - `<id>.key` files are created 0600 through a temp file + fsync + rename
//     + directory fsync, so a crash leaves either no key or a whole one.
//   - Each file holds its id, name, algorithm and bits in clear (authenticated
//     with the key), then nonce, sealed key and tag. A file renamed to another
//     id, corrupted or truncated is DataLoss; a foreign file is DataLoss too.
//   - The master key is checked against the directory when it is opened
//     (a sealed check file): a wrong one is PermissionDenied at once.
//
//   absl::StatusOr<SecretBytes> master = ReadMasterKeyFile("/etc/volcrypt/master.key");
//   absl::StatusOr<std::unique_ptr<KeyManager>> keys =
//       NewFileKeyManager("/var/lib/volcrypt/keys", *std::move(master), nullptr);
#ifndef VOLCRYPT_FILE_KEY_MANAGER_H_
#define VOLCRYPT_FILE_KEY_MANAGER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "volcrypt/key_manager.h"
#include "volcrypt/logger.h"

namespace volcrypt {

inline constexpr size_t kMasterKeyBytes = 32;

// Opens (creating if missing) the key directory. `logger` may be nullptr.
absl::StatusOr<std::unique_ptr<KeyManager>> NewFileKeyManager(
    const std::string& directory, SecretBytes master_key, Logger* logger);

// Reads a master key file: 32 raw bytes, or 64 hex characters (surrounding
// whitespace ignored). Refused (PermissionDenied) if group or others can
// access it; InvalidArgument for any other size.
absl::StatusOr<SecretBytes> ReadMasterKeyFile(
    const std::string& path);

// Generates a random master key into a new 0600 file at `path` (raw bytes)
// and returns it. The file appears whole or not at all, so AlreadyExists
// (the file exists; another process may have just created it) means that
// ReadMasterKeyFile(path) returns the key every process uses.
absl::StatusOr<SecretBytes> CreateMasterKeyFile(
    const std::string& path);

}  // namespace volcrypt

#endif  // VOLCRYPT_FILE_KEY_MANAGER_H_
