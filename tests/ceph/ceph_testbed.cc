#include "tests/ceph/ceph_testbed.h"

namespace volcrypt {
namespace testing {
namespace {

CephTestbed* g_bed = nullptr;

}  // namespace

CephTestbed::CephTestbed() : ScriptTestbed("ceph.sh") { g_bed = this; }

const std::string& CephTestbed::conf() { return g_bed->address(); }
const std::string& CephTestbed::dir() { return g_bed->ScriptTestbed::dir(); }
const std::string& CephTestbed::skip_reason() {
  return g_bed->ScriptTestbed::skip_reason();
}

void CephTestbed::KillOsd() { g_bed->Run("kill-osd"); }

}  // namespace testing
}  // namespace volcrypt
