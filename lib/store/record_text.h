// The text rules of the volume store (see volume_store.h, "Text fields"):
// checked on every write, and on every read so that a row written before the
// rules (or behind the store's back) is reported instead of reaching JSON
// writers and terminals.
#ifndef VOLCRYPT_LIB_STORE_RECORD_TEXT_H_
#define VOLCRYPT_LIB_STORE_RECORD_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace volcrypt {

// What a field may hold.
enum class TextKind {
  kName,   // ASCII letters, digits, '-', '_', '.'
  kHost,   // kName plus '@', '#', ':' (cinder's host@backend#pool)
  kLabel,  // any UTF-8 except control characters
};

struct TextRule {
  TextKind kind;
  size_t min_bytes;
  size_t max_bytes;
};

// The rules, one per kind of field.
constexpr TextRule kIdRule{TextKind::kName, 1, 255};
constexpr TextRule kKeyIdRule{TextKind::kName, 0, 255};  // "" until a key exists
constexpr TextRule kHostRule{TextKind::kHost, 0, 255};
constexpr TextRule kWordRule{TextKind::kName, 0, 64};  // statuses, cipher, target dev
constexpr TextRule kOwnerRule{TextKind::kLabel, 0, 255};  // user_id, project_id
constexpr TextRule kDomainRule{TextKind::kLabel, 0, 255};
constexpr TextRule kPoolRule{TextKind::kLabel, 0, 255};  // pool, image
constexpr TextRule kPathRule{TextKind::kLabel, 0, 4095};
constexpr TextRule kProofRule{TextKind::kLabel, 0, 256};

// OK if `value` follows `rule`; else InvalidArgument, one line naming
// `record` ("volume") and `field` and quoting at most 64 bytes of the value,
// escaped (QuoteForMessage).
absl::Status CheckText(absl::string_view record, absl::string_view field,
                       absl::string_view value, const TextRule& rule);

// The read-side check: only what breaks readers (not UTF-8, a control
// character), since lengths and character sets may have been looser when
// the row was written. Returns "" or the reason, naming `field`.
std::string UnreadableText(absl::string_view field, absl::string_view value);

// `value` in double quotes for an error message: printable ASCII as is ('"'
// and '\' escaped), every other byte as \xNN, cut after 64 input bytes with
// "..." and the total length.
std::string QuoteForMessage(absl::string_view value);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_STORE_RECORD_TEXT_H_
