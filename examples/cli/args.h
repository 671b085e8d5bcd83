// A small command-line parser for the volcrypt CLI: "--name value" and
// "--flag" options in any position, positional words in order.
#ifndef VOLCRYPT_EXAMPLES_CLI_ARGS_H_
#define VOLCRYPT_EXAMPLES_CLI_ARGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace volcrypt_cli {

class Args {
 public:
  // `flags` take no value; every other --option takes the next word.
  // Returns false (with `error` set) for an option without its value.
  bool Parse(int argc, char** argv, const std::set<std::string>& flags,
             std::string* error);

  std::optional<std::string> Get(const std::string& name) const;
  bool Has(const std::string& name) const { return options_.count(name) != 0; }
  const std::vector<std::string>& positional() const { return positional_; }
  // Options given that are not in `known`: for a clear usage error.
  std::vector<std::string> Unknown(const std::set<std::string>& known) const;

 private:
  std::map<std::string, std::string> options_;
  std::vector<std::string> positional_;
};

// Parses `value`, given for option --`name`, as a whole decimal number from
// 0 to `max`: digits only (no sign, space, exponent or suffix), so that
// "abc", "" or "-5" is an error rather than 0. The error names the option
// and quotes at most a short, escaped prefix of the value.
bool ParseCount(const std::string& name, const std::string& value, int64_t max,
                int64_t* out, std::string* error);

// `text` on one line: bytes outside printable ASCII as \xNN, cut after `max`.
std::string OneLineText(const std::string& text, size_t max);

}  // namespace volcrypt_cli

#endif  // VOLCRYPT_EXAMPLES_CLI_ARGS_H_
