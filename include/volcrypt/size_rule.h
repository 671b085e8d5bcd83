// File: volcrypt/size_rule.h
// -----------------------------------------------------------------------------
// The one rule that maps the size a user asks for (what the guest sees) to the
// size a backend must allocate, and back. Create, extend and attach all use it,
// on every backend, so that the guest always sees exactly the usable size.
//
//   raw    = payload_offset + usable
//   usable = raw - payload_offset, rounded down to the encryption sector size
//
// volcrypt's own headers put the payload at a fixed offset per format, aligned
// for both QEMU and librbd (whose default object size is 4 MiB):
//   LUKS1: 4 MiB (8192 sectors)   LUKS2: 16 MiB (32768 sectors)
// For volumes made by other tools, pass the offset read from their header.
//
//   uint64_t raw = RawBytesForUsable(PayloadOffsetBytes(spec), 1 << 30,
//                                    spec.sector_size).value();
#ifndef VOLCRYPT_SIZE_RULE_H_
#define VOLCRYPT_SIZE_RULE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "volcrypt/encryption_spec.h"

namespace volcrypt {

inline constexpr uint64_t kLuks1PayloadOffsetBytes = 4ull << 20;
inline constexpr uint64_t kLuks2PayloadOffsetBytes = 16ull << 20;

// Returns where volcrypt puts the encrypted payload for `spec`.
uint64_t PayloadOffsetBytes(const EncryptionSpec& spec);

// Returns the raw size that gives exactly `usable_bytes` of payload.
// InvalidArgument if usable_bytes is 0 or not a multiple of sector_size;
// OutOfRange if the sum overflows.
absl::StatusOr<uint64_t> RawBytesForUsable(uint64_t payload_offset_bytes,
                                           uint64_t usable_bytes,
                                           uint32_t sector_size);

// Returns the payload size a raw volume of `raw_bytes` offers. OutOfRange if
// the volume cannot hold the header and one sector of payload.
absl::StatusOr<uint64_t> UsableBytesForRaw(uint64_t payload_offset_bytes,
                                           uint64_t raw_bytes,
                                           uint32_t sector_size);

// Parses "1073741824", "512K", "64M", "10G", "1T" (binary units, optional
// trailing "iB" or "B"). InvalidArgument names the text that failed.
absl::StatusOr<uint64_t> ParseSize(absl::string_view text);

}  // namespace volcrypt

#endif  // VOLCRYPT_SIZE_RULE_H_
