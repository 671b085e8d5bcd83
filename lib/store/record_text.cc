#include "lib/store/record_text.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace volcrypt {
namespace {

constexpr size_t kQuotedBytes = 64;

enum class Flaw { kNone, kNotUtf8, kControl };

// Decodes one UTF-8 sequence at s[*i] (strict: no overlong forms, no
// surrogates, nothing above U+10FFFF); advances *i. False if invalid.
bool NextCodePoint(absl::string_view s, size_t* i, uint32_t* cp) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t b0 = byte(*i);
  size_t len;
  uint32_t min;
  if (b0 < 0x80) {
    *cp = b0;
    ++*i;
    return true;
  } else if ((b0 & 0xE0) == 0xC0) {
    len = 2, min = 0x80, *cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, min = 0x800, *cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, min = 0x10000, *cp = b0 & 0x07;
  } else {
    return false;
  }
  if (*i + len > s.size()) return false;
  for (size_t k = 1; k < len; ++k) {
    if ((byte(*i + k) & 0xC0) != 0x80) return false;
    *cp = (*cp << 6) | (byte(*i + k) & 0x3F);
  }
  if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) {
    return false;
  }
  *i += len;
  return true;
}

// C0 controls (NUL, newline, ESC, ...), DEL and the C1 controls.
bool IsControl(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

Flaw FindFlaw(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    if (!NextCodePoint(s, &i, &cp)) return Flaw::kNotUtf8;
    if (IsControl(cp)) return Flaw::kControl;
  }
  return Flaw::kNone;
}

bool InSet(char c, TextKind kind) {
  const bool name = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  if (kind == TextKind::kName) return name;
  return name || c == '@' || c == '#' || c == ':';
}

absl::string_view SetName(TextKind kind) {
  return kind == TextKind::kName
             ? "letters, digits, '-', '_', '.'"
             : "letters, digits, '-', '_', '.', '@', '#', ':'";
}

absl::string_view FlawText(Flaw flaw) {
  return flaw == Flaw::kNotUtf8 ? "is not valid UTF-8"
                                : "holds a control character";
}

}  // namespace

std::string QuoteForMessage(absl::string_view value) {
  std::string out = "\"";
  for (size_t i = 0; i < value.size() && i < kQuotedBytes; ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      absl::StrAppendFormat(&out, "\\x%02x", c);
    }
  }
  out += '"';
  if (value.size() > kQuotedBytes) {
    absl::StrAppend(&out, "... (", value.size(), " bytes)");
  }
  return out;
}

absl::Status CheckText(absl::string_view record, absl::string_view field,
                       absl::string_view value, const TextRule& rule) {
  const auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        record, " ", field, " ", QuoteForMessage(value), " ", why));
  };
  if (value.size() < rule.min_bytes || value.size() > rule.max_bytes) {
    return refuse(rule.min_bytes > 0
                      ? absl::StrCat("must be ", rule.min_bytes, " to ",
                                     rule.max_bytes, " bytes")
                      : absl::StrCat("is longer than ", rule.max_bytes, " bytes"));
  }
  if (rule.kind == TextKind::kLabel) {
    const Flaw flaw = FindFlaw(value);
    return flaw == Flaw::kNone ? absl::OkStatus() : refuse(FlawText(flaw));
  }
  for (char c : value) {
    if (!InSet(c, rule.kind)) {
      return refuse(absl::StrCat("may hold only ", SetName(rule.kind)));
    }
  }
  return absl::OkStatus();
}

std::string UnreadableText(absl::string_view field, absl::string_view value) {
  const Flaw flaw = FindFlaw(value);
  if (flaw == Flaw::kNone) return "";
  return absl::StrCat(field, " ", QuoteForMessage(value), " ", FlawText(flaw));
}

}  // namespace volcrypt
