#include "volcrypt/size_rule.h"

#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace volcrypt {

uint64_t PayloadOffsetBytes(const EncryptionSpec& spec) {
  return spec.format == LuksFormat::kLuks1 ? kLuks1PayloadOffsetBytes
                                           : kLuks2PayloadOffsetBytes;
}

absl::StatusOr<uint64_t> RawBytesForUsable(uint64_t payload_offset_bytes,
                                           uint64_t usable_bytes,
                                           uint32_t sector_size) {
  if (usable_bytes == 0) {
    return absl::InvalidArgumentError("usable size must be greater than 0");
  }
  if (sector_size == 0 || usable_bytes % sector_size != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("usable size ", usable_bytes,
                     " is not a multiple of the sector size ", sector_size));
  }
  if (usable_bytes > std::numeric_limits<uint64_t>::max() -
                         payload_offset_bytes) {
    return absl::OutOfRangeError(
        absl::StrCat("usable size ", usable_bytes, " is too large"));
  }
  return payload_offset_bytes + usable_bytes;
}

absl::StatusOr<uint64_t> UsableBytesForRaw(uint64_t payload_offset_bytes,
                                           uint64_t raw_bytes,
                                           uint32_t sector_size) {
  if (sector_size == 0) {
    return absl::InvalidArgumentError("sector size must be greater than 0");
  }
  if (raw_bytes < payload_offset_bytes + sector_size) {
    return absl::OutOfRangeError(absl::StrCat(
        "a volume of ", raw_bytes, " bytes cannot hold a LUKS header of ",
        payload_offset_bytes, " bytes and one ", sector_size,
        "-byte sector of data"));
  }
  const uint64_t usable = raw_bytes - payload_offset_bytes;
  return usable - usable % sector_size;
}

absl::StatusOr<uint64_t> ParseSize(absl::string_view text) {
  std::string s(absl::StripAsciiWhitespace(text));
  absl::string_view digits = s;
  if (absl::EndsWithIgnoreCase(digits, "ib")) {
    digits.remove_suffix(2);
  } else if (absl::EndsWithIgnoreCase(digits, "b")) {
    digits.remove_suffix(1);
  }
  int shift = 0;
  if (!digits.empty()) {
    switch (absl::ascii_toupper(digits.back())) {
      case 'K': shift = 10; break;
      case 'M': shift = 20; break;
      case 'G': shift = 30; break;
      case 'T': shift = 40; break;
      default: break;
    }
    if (shift != 0) digits.remove_suffix(1);
  }
  uint64_t value = 0;
  if (digits.empty() || !absl::ascii_isdigit(digits.front()) ||
      !absl::SimpleAtoi(digits, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("size '", text, "' is not a size (e.g. 1073741824, 64M, 10G)"));
  }
  if (shift != 0 && value > (std::numeric_limits<uint64_t>::max() >> shift)) {
    return absl::OutOfRangeError(absl::StrCat("size '", text, "' is too large"));
  }
  return value << shift;
}

}  // namespace volcrypt
