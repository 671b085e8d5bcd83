// File: volcrypt/encryption_spec.h
// -----------------------------------------------------------------------------
// EncryptionSpec says what a volume's encryption is: LUKS version, cipher,
// key strength, sector size and the KDF policy of its keyslots.
//
// The meaning of `key_bits` (one meaning, everywhere in volcrypt):
//   key_bits is the strength of the AES key, as in "AES-256". For XTS modes the
//   LUKS volume key holds two AES keys, so it is 2 * key_bits long.
//     aes-xts-plain64, key_bits 256  ->  AES-256-XTS
//       cryptsetup --key-size 512 ; QEMU cipher-alg=aes-256 ; librbd AES-256
//     aes-xts-plain64, key_bits 128  ->  AES-128-XTS
//       cryptsetup --key-size 256 ; QEMU cipher-alg=aes-128 ; librbd AES-128
//   This is what cinder's RBD path and QEMU already do with a volume type's
//   key_size. os-brick passes key_size straight to cryptsetup --key-size, which
//   for XTS halves the strength; ParseCinderSpec() accepts key_size 512 with an
//   XTS cipher as that cryptsetup meaning (AES-256-XTS).
//   The key manager's key (whose hex is the passphrase) also has key_bits bits.
//
//   absl::StatusOr<EncryptionSpec> spec = ParseCinderSpec(
//       {{"provider", "luks"}, {"cipher", "aes-xts-plain64"},
//        {"key_size", "256"}, {"control_location", "front-end"}});
#ifndef VOLCRYPT_ENCRYPTION_SPEC_H_
#define VOLCRYPT_ENCRYPTION_SPEC_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace volcrypt {

enum class LuksFormat { kLuks1, kLuks2 };

// How strong the keyslots' key derivation must be.
enum class KdfPolicy {
  // PBKDF2-SHA256 at 1000 iterations, no benchmark. Only for passphrases that
  // are the hex of a random key of >= 128 bits (a key manager's key): guessing
  // such a passphrase is hopeless whatever the KDF, so a slow KDF would only
  // cost seconds on every create and attach. See docs/design.md.
  kMachineKey,
  // libcryptsetup's defaults (PBKDF2 benchmarked to 2 s for LUKS1, argon2id for
  // LUKS2): for passphrases a person chose.
  kPassphrase,
};

// Who decrypts at attach: QEMU's own LUKS block driver (any backend; QEMU
// 7.2 opens LUKS1 only) or librbd's native encryption (rbd volumes; LUKS1
// and LUKS2). Neither is host dm-crypt.
enum class EncryptionEngine { kQemu, kLibrbd };

struct EncryptionSpec {
  LuksFormat format = LuksFormat::kLuks1;
  // dm-crypt notation: "aes-xts-plain64" or "aes-cbc-essiv:sha256".
  std::string cipher = "aes-xts-plain64";
  // AES strength in bits: 128, 192 (CBC only) or 256. See the file comment.
  int key_bits = 256;
  // Encryption sector size: 512 for LUKS1; 512, 1024, 2048 or 4096 for LUKS2.
  // 0 (the default) is the format's fastest: 4096 for LUKS2, 512 for LUKS1.
  // A create records the size it used, never 0. 4096-byte sectors cost a
  // guest nothing (every virtual disk's logical block is 512 bytes, and
  // librbd handles the read-modify-write of a partial sector) and let librbd
  // decrypt 8x fewer, larger units: see docs/performance.md's data path.
  uint32_t sector_size = 0;
  KdfPolicy kdf = KdfPolicy::kMachineKey;
  EncryptionEngine engine = EncryptionEngine::kQemu;
};

// spec.sector_size, or the format's default when it is 0 (see above).
uint32_t EffectiveSectorSize(const EncryptionSpec& spec);

// Returns OK if `spec` is one volcrypt can format, else InvalidArgument
// naming the field and the allowed values. (The LUKS core needs no more.)
absl::Status ValidateSpec(const EncryptionSpec& spec);

// Returns OK if spec.engine can decrypt such a volume at attach, else
// InvalidArgument saying why: LUKS2 needs the librbd engine (QEMU 7.2 opens
// LUKS1 only), which only serves rbd volumes and decrypts AES-XTS only.
absl::Status ValidateEngine(const EncryptionSpec& spec,
                                            bool rbd_volume);

// The cipher name and mode as libcryptsetup takes them ("aes",
// "xts-plain64"). Precondition: ValidateSpec(spec).ok().
std::string CipherName(const EncryptionSpec& spec);
std::string CipherMode(const EncryptionSpec& spec);

// Returns the size of the LUKS volume (master) key in bytes: 2 * key_bits / 8
// for XTS, key_bits / 8 otherwise.
size_t VolumeKeyBytes(const EncryptionSpec& spec);

// Returns the size in bytes of the key a key manager creates for this spec.
size_t KeyManagerKeyBytes(const EncryptionSpec& spec);

// "luks1" / "luks2" and back (the parser also takes cinder's "luks").
absl::string_view LuksFormatName(LuksFormat format);
absl::StatusOr<LuksFormat> ParseLuksFormat(absl::string_view name);

// "machine-key" / "passphrase" and back.
absl::string_view KdfPolicyName(KdfPolicy policy);
absl::StatusOr<KdfPolicy> ParseKdfPolicy(absl::string_view name);

// "qemu" / "librbd" and back.
absl::string_view EncryptionEngineName(EncryptionEngine e);
absl::StatusOr<EncryptionEngine> ParseEncryptionEngine(
    absl::string_view name);

// Builds a spec from cinder volume-type encryption specs: `provider`
// ("luks", "luks2", or the legacy os-brick/nova LuksEncryptor class paths),
// `cipher`, `key_size` (bits), `control_location` ("front-end"). Missing keys
// take the defaults above. Errors: InvalidArgument for unknown keys or
// malformed values; Unimplemented for a provider or control location volcrypt
// deliberately does not support ("plain", "back-end").
absl::StatusOr<EncryptionSpec> ParseCinderSpec(
    const std::map<std::string, std::string>& specs);

}  // namespace volcrypt

#endif  // VOLCRYPT_ENCRYPTION_SPEC_H_
