// A throwaway Ceph cluster (tests/scripts/ceph.sh: one monitor, one
// memstore OSD) for the whole benchmark run, with an RbdBackend on it and
// an embedded volcrypt stack (file keys, SQLite) using that backend.
#ifndef VOLCRYPT_BENCH_CEPH_CLUSTER_H_
#define VOLCRYPT_BENCH_CEPH_CLUSTER_H_

#include <memory>
#include <string>

#include "tests/support/embedded_stack.h"
#include "volcrypt/rbd_backend.h"

namespace volcrypt {
namespace bench {

struct CephCluster {
  // Starts the cluster; `conf` stays empty if it did not start (benchmarks
  // then skip: aborting would leave it running). CEPH_MEMSTORE_BYTES in the
  // environment sizes the OSD.
  CephCluster();
  ~CephCluster();  // stops it by PID

  std::string script, dir, conf;
  std::unique_ptr<RbdBackend> rbd;
  std::unique_ptr<testing::EmbeddedStack> stack;
};

// Names unique across iterations and repetitions: prefix + a counter.
std::string Unique(const std::string& prefix);

}  // namespace bench
}  // namespace volcrypt

#endif  // VOLCRYPT_BENCH_CEPH_CLUSTER_H_
