// Text from outside (ids, names, paths) quoted for an error message: at most
// a few dozen bytes, non-printable bytes escaped, so that a hostile 10 KB id
// or one holding a newline cannot bloat or split the one-line error.
#ifndef VOLCRYPT_LIB_UTIL_QUOTE_H_
#define VOLCRYPT_LIB_UTIL_QUOTE_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace volcrypt {

// 'text' with C escapes for anything outside printable ASCII, cut after
// `max_bytes` input bytes with "... (N bytes)" appended.
std::string QuoteForMessage(absl::string_view text, size_t max_bytes = 64);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_UTIL_QUOTE_H_
