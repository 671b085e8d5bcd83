// The LUKS volume (master) key of a header, for the payload copier of a
// conversion, which decrypts and encrypts in this process. It lives only in
// SecretBytes (wiped, never logged, never written anywhere).
#ifndef VOLCRYPT_LIB_LUKS_VOLUME_KEY_H_
#define VOLCRYPT_LIB_LUKS_VOLUME_KEY_H_

#include <string>

#include "absl/status/statusor.h"
#include "volcrypt/secret_bytes.h"

namespace volcrypt {
namespace luks {

// Unlocks the header at `header_path` (a LuksHeaderImage's path, or a
// volume's) with `passphrase` and returns its volume key. PermissionDenied
// (EPERM) if no keyslot accepts it; InvalidArgument if not LUKS.
absl::StatusOr<SecretBytes> ExtractVolumeKey(const std::string& header_path,
                                             const SecretBytes& passphrase);

}  // namespace luks
}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_LUKS_VOLUME_KEY_H_
