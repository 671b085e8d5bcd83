// The hostile operator's tools for the adversarial suite: the real volcrypt
// CLI run in the foreground or the background (with a bound, and its real
// exit status, signals included), and small checks on what it printed.
#ifndef VOLCRYPT_TESTS_ADVERSARIAL_ADVERSARY_H_
#define VOLCRYPT_TESTS_ADVERSARIAL_ADVERSARY_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/test_support.h"

namespace volcrypt {
namespace testing {

// $VOLCRYPT_CLI (set by meson), else "volcrypt" in PATH.
std::string CliPath();

// What a finished process did. `exit_code` is the exit status, or 128 + the
// signal that ended it (so SIGPIPE is 141, as a shell reports it);
// `timed_out` when the bound passed and it was SIGKILLed.
struct Outcome {
  int exit_code = -1;
  bool timed_out = false;
  std::string out;
  std::string err;
};

// A process started in the background, its output going to private files.
class Background {
 public:
  explicit Background(const std::vector<std::string>& argv);
  ~Background();  // SIGKILLs and reaps it if still running
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  pid_t pid() const { return pid_; }
  // Waits at most `seconds`, then SIGKILLs it.
  Outcome Wait(double seconds);
  // SIGKILLs it now and reaps it.
  Outcome Kill();

 private:
  Outcome Collect(int wstatus, bool timed_out);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
};

// Runs argv to the end, SIGKILLed after `seconds`.
Outcome RunBounded(const std::vector<std::string>& argv, double seconds = 120);

// The CLI as one operator runs it: global options (at least --state-dir)
// before every command.
class Operator {
 public:
  explicit Operator(std::vector<std::string> globals) : globals_(std::move(globals)) {}

  std::vector<std::string> Argv(const std::vector<std::string>& args) const;
  Outcome Run(const std::vector<std::string>& args, double seconds = 120) const;
  const std::vector<std::string>& globals() const { return globals_; }

 private:
  std::vector<std::string> globals_;
};

// `argv` run under strace with `options` (-P, --inject=...: a kill, a delay
// or a fault on cue, at one system call of the real CLI). LeakSanitizer,
// which cannot run under ptrace, is turned off for it.
std::vector<std::string> UnderStrace(const std::vector<std::string>& options,
                                     const std::vector<std::string>& argv);

// True if `err` is exactly one line ending in '\n', at most `max_bytes` long.
bool IsOneShortLine(const std::string& err, size_t max_bytes = 300);

// `text` parsed as JSON; a discarded value (is_discarded()) if it is not.
nlohmann::json ParseJson(const std::string& text);

// A file's whole content, or "<missing>" if it cannot be opened.
std::string FileContent(const std::string& path);

// A sparse file of `bytes` holding `marker` at offset 0 (someone else's file).
void WriteMarkedFile(const std::string& path, const std::string& marker,
                     uint64_t bytes);

// Printable form of hostile bytes for failure messages (escaped, truncated).
std::string Printable(const std::string& bytes, size_t max = 80);

}  // namespace testing
}  // namespace volcrypt

#endif  // VOLCRYPT_TESTS_ADVERSARIAL_ADVERSARY_H_
