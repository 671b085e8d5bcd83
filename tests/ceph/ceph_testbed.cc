#include "tests/ceph/ceph_testbed.h"

#include <cstdlib>

#include "absl/strings/ascii.h"

namespace volcrypt {
namespace testing {
namespace {

std::string* g_conf = new std::string;
std::string* g_dir = new std::string;
std::string* g_skip = new std::string;

std::string Script() {
  const char* root = std::getenv("VOLCRYPT_SOURCE_ROOT");
  return std::string(root ? root : ".") + "/tests/scripts/ceph.sh";
}

}  // namespace

void CephTestbed::SetUp() {
  char templ[] = "/tmp/volcrypt-ceph-XXXXXX";
  if (mkdtemp(templ) == nullptr) {
    *g_skip = "mkdtemp failed";
    return;
  }
  *g_dir = templ;
  CommandResult r = RunCommand({"bash", Script(), "start", *g_dir});
  if (r.exit_code == 77) {
    *g_skip = "no Ceph here: " + r.err;
  } else if (r.exit_code != 0) {
    ADD_FAILURE() << "ceph.sh start failed: " << r.out << r.err;
    *g_skip = "the Ceph test cluster did not start";
  } else {
    *g_conf = std::string(absl::StripAsciiWhitespace(r.out));
  }
}

void CephTestbed::TearDown() {
  if (g_dir->empty()) return;
  RunCommand({"bash", Script(), "stop", *g_dir});
  RunCommand({"rm", "-rf", *g_dir});
}

const std::string& CephTestbed::conf() { return *g_conf; }
const std::string& CephTestbed::dir() { return *g_dir; }
const std::string& CephTestbed::skip_reason() { return *g_skip; }

void CephTestbed::KillOsd() { RunCommand({"bash", Script(), "kill-osd", *g_dir}); }

}  // namespace testing
}  // namespace volcrypt
