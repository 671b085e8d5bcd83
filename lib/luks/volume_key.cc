#include "lib/luks/volume_key.h"

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "lib/luks/crypt_device.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace luks {

absl::StatusOr<SecretBytes> ExtractVolumeKey(const std::string& header_path,
                                             const SecretBytes& passphrase) {
  VOLCRYPT_ASSIGN_OR_RETURN(std::unique_ptr<CryptDevice> dev, CryptDevice::Load(header_path));
  const int size = crypt_get_volume_key_size(dev->get());
  if (size <= 0) return absl::InvalidArgumentError(header_path + ": no volume key size");
  SecretBytes key(static_cast<size_t>(size));
  size_t got = key.size();
  const int r = crypt_volume_key_get(dev->get(), CRYPT_ANY_SLOT,
                                     reinterpret_cast<char*>(key.data()), &got,
                                     passphrase.char_data(), passphrase.size());
  if (r == -EPERM) {
    return ErrnoError(absl::StatusCode::kPermissionDenied, EPERM,
                      absl::StrCat(header_path, ": no keyslot accepts the passphrase"));
  }
  if (r < 0) return dev->Error(r, "get the volume key");
  key.Truncate(got);
  return key;
}

}  // namespace luks
}  // namespace volcrypt
