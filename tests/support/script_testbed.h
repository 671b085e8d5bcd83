// A real service for a whole test program, started and stopped by one of
// the project's scripts (tests/scripts/NAME.sh start|stop DIR), which prints
// the service's address. Exit 77 from the script means "not installed here":
// the tests skip with its reason. Stopped by PID at the end, whatever the
// tests did.
#ifndef VOLCRYPT_TESTS_SUPPORT_SCRIPT_TESTBED_H_
#define VOLCRYPT_TESTS_SUPPORT_SCRIPT_TESTBED_H_

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace volcrypt {
namespace testing {

class ScriptTestbed : public ::testing::Environment {
 public:
  // `script` is a name under tests/scripts ("barbican.sh"); `env` holds
  // "NAME=value" settings for the script ("BARBICAN_TLS=1").
  explicit ScriptTestbed(std::string script, std::vector<std::string> env = {})
      : script_(std::move(script)), env_(std::move(env)) {}

  void SetUp() override;
  void TearDown() override;

  // What the script printed (a URL, a connection string); "" if it did not
  // start, and then skip_reason() says why.
  const std::string& address() const { return address_; }
  const std::string& skip_reason() const { return skip_reason_; }
  const std::string& dir() const { return dir_; }

  // Kills the service (its state stays in dir()) / starts it again there.
  void Stop();
  bool Restart();
  // Runs another verb of the script on dir() ("kill-osd").
  void Run(const std::string& verb);

 private:
  bool Start();

  std::string script_;
  std::vector<std::string> env_;
  std::string dir_;
  std::string address_;
  std::string skip_reason_;
};

// Skips the current test unless `bed` is up.
#define VOLCRYPT_REQUIRE_TESTBED(bed) \
  if ((bed)->address().empty()) GTEST_SKIP() << (bed)->skip_reason()

}  // namespace testing
}  // namespace volcrypt

#endif  // VOLCRYPT_TESTS_SUPPORT_SCRIPT_TESTBED_H_
