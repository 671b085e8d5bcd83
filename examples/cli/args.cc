#include "examples/cli/args.h"

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

}  // namespace volcrypt_cli
