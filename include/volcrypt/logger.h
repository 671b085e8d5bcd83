// File: volcrypt/logger.h
// -----------------------------------------------------------------------------
// Where volcrypt's decision and status lines go. Components take a Logger* in
// their options (nullptr means DefaultLogger(): warnings and errors to
// stderr). No line ever holds key bytes or passphrases.
//
//   class MyLogger : public volcrypt::Logger {
//     void Log(volcrypt::LogLevel level, absl::string_view line) override {...}
//   };
#ifndef VOLCRYPT_LOGGER_H_
#define VOLCRYPT_LOGGER_H_

#include "absl/strings/string_view.h"

namespace volcrypt {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// "DEBUG", "INFO", "WARNING", "ERROR".
absl::string_view LogLevelName(LogLevel level);

class Logger {
 public:
  Logger() = default;
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;
  virtual ~Logger();

  // Receives one line (no trailing newline). Must be safe to call from
  // several threads at once.
  virtual void Log(LogLevel level, absl::string_view line) = 0;
};

// A process-wide logger writing warnings and errors to stderr as
// "volcrypt: WARNING: ...". Never destroyed.
Logger* DefaultLogger();

// A logger that discards everything. Never destroyed.
Logger* NullLogger();

}  // namespace volcrypt

#endif  // VOLCRYPT_LOGGER_H_
