#include "tests/support/script_testbed.h"

#include <sys/stat.h>

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "tests/support/test_support.h"

namespace volcrypt {
namespace testing {
namespace {

std::string ScriptPath(const std::string& script) {
  const char* root = std::getenv("VOLCRYPT_SOURCE_ROOT");
  return std::string(root ? root : ".") + "/tests/scripts/" + script;
}

}  // namespace

void ScriptTestbed::SetUp() {
  std::string templ = "/tmp/volcrypt-" + script_ + "-XXXXXX";  // unique per bed
  if (mkdtemp(templ.data()) == nullptr) {
    skip_reason_ = "cannot make a test directory";
    return;
  }
  dir_ = templ;
  // Servers that drop privileges (PostgreSQL runs as nobody) must reach
  // their directory: traverse only, no listing.
  chmod(dir_.c_str(), 0711);
  Start();
}

bool ScriptTestbed::Start() {
  std::vector<std::string> argv = {"env"};
  argv.insert(argv.end(), env_.begin(), env_.end());
  argv.insert(argv.end(), {"bash", ScriptPath(script_), "start", dir_});
  CommandResult r = RunCommand(argv);
  if (r.exit_code == 77) {
    skip_reason_ = script_ + ": not available here: " + r.err;
    return false;
  }
  if (r.exit_code != 0) {
    ADD_FAILURE() << script_ << " start failed: " << r.out << r.err;
    skip_reason_ = script_ + " did not start";
    return false;
  }
  address_ = std::string(absl::StripAsciiWhitespace(r.out));
  return true;
}

void ScriptTestbed::Run(const std::string& verb) {
  RunCommand({"bash", ScriptPath(script_), verb, dir_});
}

void ScriptTestbed::Stop() { Run("stop"); }

bool ScriptTestbed::Restart() {
  Stop();
  return Start();
}

void ScriptTestbed::TearDown() {
  if (dir_.empty()) return;
  Stop();
  RunCommand({"rm", "-rf", dir_});
}

}  // namespace testing
}  // namespace volcrypt
