// The Ceph test bed: a throwaway single-node cluster (1 monitor, 1 memstore
// OSD, no mgr) started by tests/scripts/ceph.sh for the whole test program
// and stopped by PID at the end. Without the Ceph packages the tests skip.
#ifndef VOLCRYPT_TESTS_CEPH_CEPH_TESTBED_H_
#define VOLCRYPT_TESTS_CEPH_CEPH_TESTBED_H_

#include <string>

#include "tests/support/script_testbed.h"
#include "tests/support/test_support.h"

namespace volcrypt {
namespace testing {

// Register one per program (AddGlobalTestEnvironment(new CephTestbed)).
class CephTestbed : public ScriptTestbed {
 public:
  CephTestbed();

  // Path of the cluster's ceph.conf ("" if it could not start).
  static const std::string& conf();
  static const std::string& dir();
  static const std::string& skip_reason();
  // SIGKILLs the OSD: every later I/O times out.
  static void KillOsd();
};

}  // namespace testing
}  // namespace volcrypt

#endif  // VOLCRYPT_TESTS_CEPH_CEPH_TESTBED_H_
