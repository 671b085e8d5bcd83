#include "lib/util/quote.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace volcrypt {

std::string QuoteForMessage(absl::string_view text, size_t max_bytes) {
  const absl::string_view shown = text.substr(0, max_bytes);
  std::string out = absl::StrCat("'", absl::CHexEscape(shown), "'");
  if (shown.size() < text.size()) {
    absl::StrAppend(&out, "... (", text.size(), " bytes)");
  }
  return out;
}

}  // namespace volcrypt
