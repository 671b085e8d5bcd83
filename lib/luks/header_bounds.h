// Limits on what a LUKS header read from a volume may make volcrypt do.
// A header is outside input: whoever controlled the volume (a tenant, a
// restored backup, a disk from elsewhere) wrote it. Without limits a payload
// offset near the end of a large volume makes a header copy read gigabytes,
// and an iteration count of 0xFFFFFFFF makes one passphrase check run for
// hours. Headers that cryptsetup and volcrypt write stay well inside them.
#ifndef VOLCRYPT_LIB_LUKS_HEADER_BOUNDS_H_
#define VOLCRYPT_LIB_LUKS_HEADER_BOUNDS_H_

#include <libcryptsetup.h>

#include <cstdint>

#include "absl/status/statusor.h"

namespace volcrypt {
namespace luks {

// The most of a header (binary headers, JSON areas, keyslot areas) volcrypt
// reads. LUKS2 defaults to 16 MiB; LUKS1 to about 1 MiB.
inline constexpr uint64_t kMaxHeaderBytes = 64 << 20;
// LUKS2 binary header plus JSON area: 16 KiB to 4 MiB by the specification.
inline constexpr uint64_t kMinLuks2MetadataBytes = 16 << 10;
inline constexpr uint64_t kMaxLuks2MetadataBytes = 4 << 20;
// PBKDF2 keyslot iterations. `cryptsetup luksFormat` aims at 2 s
// (--iter-time 2000): about 5 million on a 2.4 M/s machine, about 10 million
// on the fastest current CPUs. The cap leaves room for a --iter-time of 10 s
// there, and bounds one check to well under a minute.
inline constexpr uint64_t kMaxPbkdf2Iterations = 50'000'000;
// Volume-key digest iterations (LUKS1 mk-digest-iter, LUKS2 digests):
// cryptsetup spends 1/8 of the keyslot's time there (a few hundred thousand).
inline constexpr uint64_t kMaxDigestIterations = 10'000'000;
// Argon2 keyslots: cryptsetup's own limits are 4 GiB of memory; its time
// costs are single digits. 1000 passes bound a check all the same.
inline constexpr uint64_t kMaxArgon2Time = 1000;
inline constexpr uint64_t kMaxArgon2MemoryKiB = 4 << 20;

// Checks a LUKS1 phdr (its first 592 bytes, of `first` which has at least
// 4096) and returns where its keyslot area ends: all of the header that
// matters. InvalidArgument naming the value for anything past the limits.
absl::StatusOr<uint64_t> Luks1HeaderEnd(const uint8_t* first);

// Checks the LUKS2 metadata loaded in `cd` (iteration counts of keyslots and
// digests) and returns where its keyslot area ends. InvalidArgument naming
// the value for anything past the limits.
absl::StatusOr<uint64_t> Luks2HeaderEnd(crypt_device* cd);

}  // namespace luks
}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_LUKS_HEADER_BOUNDS_H_
