// Reading and writing small secret files (master keys, fixed keys) safely:
// no symlinks followed, refused if group or others may read them, contents
// only ever in SecretBytes.
#ifndef VOLCRYPT_LIB_KEYS_SECRET_FILE_H_
#define VOLCRYPT_LIB_KEYS_SECRET_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "volcrypt/secret_bytes.h"

namespace volcrypt {

// Returns the contents of `path` (at most `max_bytes`). NotFound if missing;
// PermissionDenied if group or others have any access to it; InvalidArgument
// if it is not a regular file or is larger than max_bytes.
absl::StatusOr<SecretBytes> ReadSecretFile(const std::string& path,
                                           size_t max_bytes);

// Creates `path` (0600, exclusively, not through a symlink) holding `bytes`,
// durably (file and directory synced). It appears whole or not at all.
// AlreadyExists if it exists, also when another process created it first.
absl::Status CreateSecretFile(const std::string& path,
                              const SecretBytes& bytes);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_KEYS_SECRET_FILE_H_
