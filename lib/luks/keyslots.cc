// Passphrase checks and keyslot changes. Unlocking never activates a mapping:
// crypt_activate_by_passphrase with a NULL name only verifies the passphrase.
#include <cerrno>
#include <memory>

#include "absl/strings/str_cat.h"
#include "lib/luks/crypt_device.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"
#include "volcrypt/luks.h"

namespace volcrypt {
namespace luks {
namespace {

absl::Status WrongPassphrase(const std::string& path) {
  return ErrnoError(absl::StatusCode::kPermissionDenied, EPERM,
                    absl::StrCat(path, ": no keyslot accepts the passphrase"));
}

absl::StatusOr<int> Unlock(const CryptDevice& dev,
                           const SecretBytes& passphrase) {
  const int r = crypt_activate_by_passphrase(dev.get(), nullptr,
                                             CRYPT_ANY_SLOT,
                                             passphrase.char_data(),
                                             passphrase.size(), 0);
  if (r == -EPERM) return WrongPassphrase(dev.path());
  if (r < 0) return dev.Error(r, "unlock keyslot");
  return r;
}

int ActiveKeyslots(const CryptDevice& dev) {
  const int max = crypt_keyslot_max(crypt_get_type(dev.get()));
  int active = 0;
  for (int slot = 0; slot < max; ++slot) {
    const crypt_keyslot_info info = crypt_keyslot_status(dev.get(), slot);
    if (info == CRYPT_SLOT_ACTIVE || info == CRYPT_SLOT_ACTIVE_LAST) ++active;
  }
  return active;
}

// LUKS2's keyslot area can fill before its 32-entry table does (volcrypt's
// 4 MiB area holds about 16 keyslots of a 512-bit key): true if a new
// keyslot's anti-forensic area (key size x 4000 stripes, in 4 KiB units)
// no longer fits beside the active ones.
bool KeyslotAreaFull(const CryptDevice& dev) {
  uint64_t metadata = 0;
  uint64_t area = 0;
  if (crypt_get_metadata_size(dev.get(), &metadata, &area) != 0 || area == 0) {
    return false;
  }
  uint64_t used = 0;
  const int max = crypt_keyslot_max(crypt_get_type(dev.get()));
  for (int slot = 0; slot < max; ++slot) {
    uint64_t offset = 0;
    uint64_t length = 0;
    if (crypt_keyslot_area(dev.get(), slot, &offset, &length) == 0) used += length;
  }
  const uint64_t key = static_cast<uint64_t>(crypt_get_volume_key_size(dev.get()));
  const uint64_t needed = (key * 4000 + 4095) / 4096 * 4096;
  return used + needed > area;
}

absl::Status CheckNewPassphrase(const SecretBytes& new_passphrase) {
  if (new_passphrase.empty()) {
    return absl::InvalidArgumentError("new passphrase is empty");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int> VerifyPassphrase(const std::string& path,
                                     const SecretBytes& passphrase) {
  VOLCRYPT_ASSIGN_OR_RETURN(std::unique_ptr<CryptDevice> dev,
                            CryptDevice::Load(path));
  return Unlock(*dev, passphrase);
}

absl::StatusOr<int> AddPassphrase(const std::string& path,
                                  const SecretBytes& passphrase,
                                  const SecretBytes& new_passphrase,
                                  KdfPolicy policy) {
  VOLCRYPT_RETURN_IF_ERROR(CheckNewPassphrase(new_passphrase));
  VOLCRYPT_ASSIGN_OR_RETURN(std::unique_ptr<CryptDevice> dev,
                            CryptDevice::Load(path));
  VOLCRYPT_RETURN_IF_ERROR(
      ApplyKdfPolicy(*dev, policy, crypt_get_type(dev->get())));
  const int r = crypt_keyslot_add_by_passphrase(
      dev->get(), CRYPT_ANY_SLOT, passphrase.char_data(), passphrase.size(),
      new_passphrase.char_data(), new_passphrase.size());
  if (r == -EPERM) return WrongPassphrase(path);
  if (r == -ENOSPC || r == -EINVAL) {
    if (ActiveKeyslots(*dev) >= crypt_keyslot_max(crypt_get_type(dev->get()))) {
      return ErrnoError(absl::StatusCode::kResourceExhausted, ENOSPC,
                        absl::StrCat(path, ": every keyslot is in use"));
    }
    if (KeyslotAreaFull(*dev)) {
      return ErrnoError(absl::StatusCode::kResourceExhausted, ENOSPC,
                        absl::StrCat(path, ": the keyslot area is full"));
    }
  }
  if (r < 0) return dev->Error(r, "add keyslot");
  return r;
}

absl::Status RemovePassphrase(const std::string& path,
                              const SecretBytes& passphrase) {
  VOLCRYPT_ASSIGN_OR_RETURN(std::unique_ptr<CryptDevice> dev,
                            CryptDevice::Load(path));
  VOLCRYPT_ASSIGN_OR_RETURN(int slot, Unlock(*dev, passphrase));
  if (ActiveKeyslots(*dev) <= 1) {
    return ErrnoError(
        absl::StatusCode::kFailedPrecondition, EBUSY,
        absl::StrCat(path, ": keyslot ", slot,
                     " is the last one; removing it would make the volume "
                     "unreadable"));
  }
  const int r = crypt_keyslot_destroy(dev->get(), slot);
  if (r < 0) return dev->Error(r, absl::StrCat("destroy keyslot ", slot));
  return absl::OkStatus();
}

absl::StatusOr<int> ChangePassphrase(const std::string& path,
                                     const SecretBytes& passphrase,
                                     const SecretBytes& new_passphrase,
                                     KdfPolicy policy) {
  VOLCRYPT_RETURN_IF_ERROR(CheckNewPassphrase(new_passphrase));
  VOLCRYPT_ASSIGN_OR_RETURN(std::unique_ptr<CryptDevice> dev,
                            CryptDevice::Load(path));
  VOLCRYPT_RETURN_IF_ERROR(
      ApplyKdfPolicy(*dev, policy, crypt_get_type(dev->get())));
  // libcryptsetup writes the new keyslot before destroying the old one, so a
  // crash in between leaves both passphrases working, never neither.
  const int r = crypt_keyslot_change_by_passphrase(
      dev->get(), CRYPT_ANY_SLOT, CRYPT_ANY_SLOT, passphrase.char_data(),
      passphrase.size(), new_passphrase.char_data(), new_passphrase.size());
  if (r == -EPERM) return WrongPassphrase(path);
  if (r < 0) return dev->Error(r, "change keyslot passphrase");
  return r;
}

}  // namespace luks
}  // namespace volcrypt
