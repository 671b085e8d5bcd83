#include "volcrypt/logger.h"

#include <cstdio>
#include <mutex>
#include <string>

namespace volcrypt {

Logger::~Logger() = default;

absl::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kWarning: return "WARNING";
    case LogLevel::kError: return "ERROR";
  }
  return "UNKNOWN";
}

namespace {

class StderrLogger final : public Logger {
 public:
  void Log(LogLevel level, absl::string_view line) override {
    if (level < LogLevel::kWarning) return;
    std::lock_guard<std::mutex> lock(mu_);
    std::fprintf(stderr, "volcrypt: %s: %.*s\n",
                 std::string(LogLevelName(level)).c_str(),
                 static_cast<int>(line.size()), line.data());
  }

 private:
  std::mutex mu_;
};

class DiscardingLogger final : public Logger {
 public:
  void Log(LogLevel, absl::string_view) override {}
};

}  // namespace

Logger* DefaultLogger() {
  static Logger* logger = new StderrLogger;
  return logger;
}

Logger* NullLogger() {
  static Logger* logger = new DiscardingLogger;
  return logger;
}

}  // namespace volcrypt
