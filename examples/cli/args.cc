#include "examples/cli/args.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace volcrypt_cli {

bool Args::Parse(int argc, char** argv, const std::set<std::string>& flags,
                 std::string* error) {
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.size() > 2 && word.compare(0, 2, "--") == 0) {
      const std::string name = word.substr(2);
      if (flags.count(name) != 0) {
        options_[name] = "";
      } else if (i + 1 < argc) {
        options_[name] = argv[++i];
      } else {
        *error = "option --" + name + " needs a value";
        return false;
      }
    } else {
      positional_.push_back(word);
    }
  }
  return true;
}

std::optional<std::string> Args::Get(const std::string& name) const {
  auto it = options_.find(name);
  if (it == options_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Args::Unknown(const std::set<std::string>& known) const {
  std::vector<std::string> out;
  for (const auto& [name, value] : options_) {
    if (known.count(name) == 0) out.push_back("--" + name);
  }
  return out;
}

bool ParseCount(const std::string& name, const std::string& value, int64_t max,
                int64_t* out, std::string* error) {
  int64_t n = 0;
  bool ok = !value.empty();
  for (char c : value) {
    if (c < '0' || c > '9' || n > (max - (c - '0')) / 10) {
      ok = false;
      break;
    }
    n = n * 10 + (c - '0');
  }
  if (!ok) {
    constexpr size_t kShown = 32;
    std::string shown = absl::CHexEscape(value.substr(0, kShown));
    if (value.size() > kShown) shown += "...";
    *error = absl::StrCat("option --", name, " takes a whole number from 0 to ",
                          max, ", not '", shown, "'");
    return false;
  }
  *out = n;
  return true;
}

std::string OneLineText(const std::string& text, size_t max) {
  std::string out;
  for (char c : text.substr(0, max)) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(u, absl::kZeroPad2));
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace volcrypt_cli
