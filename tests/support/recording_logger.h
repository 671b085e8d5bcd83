// A Logger that keeps every line, for tests that check what was logged.
#ifndef VOLCRYPT_TESTS_SUPPORT_RECORDING_LOGGER_H_
#define VOLCRYPT_TESTS_SUPPORT_RECORDING_LOGGER_H_

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "volcrypt/logger.h"

namespace volcrypt {
namespace testing {

class RecordingLogger : public Logger {
 public:
  void Log(LogLevel level, absl::string_view line) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines.emplace_back(LogLevelName(level), std::string(line));
  }
  // How many lines equal `line` exactly.
  int Count(const std::string& line) {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& l : lines) n += l.second == line;
    return n;
  }
  // Every line, one per row, as "LEVEL: line".
  std::string Text() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    for (const auto& l : lines) out += l.first + ": " + l.second + "\n";
    return out;
  }
  std::vector<std::pair<std::string, std::string>> lines;

 private:
  std::mutex mu_;
};

}  // namespace testing
}  // namespace volcrypt

#endif  // VOLCRYPT_TESTS_SUPPORT_RECORDING_LOGGER_H_
