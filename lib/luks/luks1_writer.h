// A LUKS1 header written by volcrypt itself (issue #16), for the one spec a
// create uses most: LUKS1, aes-xts-plain64, sha256, the machine-key PBKDF2
// (1000 iterations, the LUKS minimum, as for a random 512-bit passphrase).
// libcryptsetup makes the same header in ~22 ms of CPU, half of it reading
// 2.3 MB from /dev/urandom in ~4,000 separate reads (the anti-forensic
// split's 64-byte stripes and a random fill of every keyslot area); this
// draws the same randomness from OpenSSL's DRBG (RAND_priv_bytes for the
// volume key and salts' secrets, RAND_bytes for stripes and fill) and
// needs no libcryptsetup at all. The layout is libcryptsetup's, field for
// field (tests/unit/luks1_writer_test.cc compares them, and cryptsetup,
// qemu-img and librbd open what it writes). libcryptsetup still makes
// LUKS2 headers, every other LUKS1 spec, and reads every header.
#ifndef VOLCRYPT_LIB_LUKS_LUKS1_WRITER_H_
#define VOLCRYPT_LIB_LUKS_LUKS1_WRITER_H_

#include "absl/status/status.h"
#include "volcrypt/encryption_spec.h"
#include "volcrypt/luks.h"
#include "volcrypt/secret_bytes.h"

namespace volcrypt {
namespace luks {

// Whether WriteLuks1Image handles `spec`.
bool OwnLuks1WriterHandles(const EncryptionSpec& spec);

// Writes a LUKS1 header into `image` (zero-filled, PayloadOffsetBytes long):
// a fresh random volume key in keyslot 0 under `passphrase`.
absl::Status WriteLuks1Image(const EncryptionSpec& spec, const SecretBytes& passphrase,
                             LuksHeaderImage& image);

}  // namespace luks
}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_LUKS_LUKS1_WRITER_H_
