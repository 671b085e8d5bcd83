#include "bench/ceph_cluster.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "bench/bench_support.h"

namespace volcrypt {
namespace bench {

CephCluster::CephCluster() {
  const char* root = std::getenv("VOLCRYPT_SOURCE_ROOT");
  script = std::string(root ? root : ".") + "/tests/scripts/ceph.sh";
  dir = ScratchDir() + "/ceph";
  conf = std::string(absl::StripAsciiWhitespace(RunOutput({"bash", script, "start", dir})));
  if (conf.empty()) return;
  RbdBackendOptions o;
  o.ceph_conf = conf;
  absl::StatusOr<std::unique_ptr<RbdBackend>> connected = RbdBackend::Connect(o);
  if (!connected.ok()) {
    conf.clear();
    return;
  }
  rbd = std::move(*connected);
  testing::EmbeddedStackOptions so;
  so.dir = ScratchDir();
  so.host = "bench";
  so.rbd = rbd.get();
  stack = std::move(testing::EmbeddedStack::Open(std::move(so)).value());
}

CephCluster::~CephCluster() { Run({"bash", script, "stop", dir}); }

std::string Unique(const std::string& prefix) {
  static int n = 0;
  return prefix + std::to_string(n++);
}

}  // namespace bench
}  // namespace volcrypt
