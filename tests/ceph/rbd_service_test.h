// The fixture the RBD flow tests share: an RbdBackend on the program's Ceph
// test bed (ceph_testbed.h) and an EmbeddedStack (file keys, SQLite) whose
// service uses it, and Create() for a 32 MiB volume "volume-<id>" in pool
// "rbd" with the format and engine asked for.
#ifndef VOLCRYPT_TESTS_CEPH_RBD_SERVICE_TEST_H_
#define VOLCRYPT_TESTS_CEPH_RBD_SERVICE_TEST_H_

#include <memory>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "tests/ceph/ceph_testbed.h"
#include "tests/support/embedded_stack.h"
#include "tests/support/test_support.h"
#include "volcrypt/rbd_backend.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace testing {

class RbdServiceTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kSize = 32 << 20;

  void SetUp() override {
    if (CephTestbed::conf().empty()) GTEST_SKIP() << CephTestbed::skip_reason();
    RbdBackendOptions o;
    o.ceph_conf = CephTestbed::conf();
    o.timeout_seconds = 5;
    absl::StatusOr<std::unique_ptr<RbdBackend>> rbd = RbdBackend::Connect(o);
    ASSERT_TRUE(rbd.ok()) << rbd.status();
    rbd_ = std::move(*rbd);
    EmbeddedStackOptions so;
    so.dir = tmp_.path();
    so.rbd = rbd_.get();
    stack_ = std::move(EmbeddedStack::Open(std::move(so)).value());
    keys_ = &stack_->keys();
    store_ = &stack_->store();
    service_ = &stack_->service();
  }

  absl::StatusOr<VolumeRecord> Create(const std::string& id, LuksFormat format,
                                      EncryptionEngine engine, bool native = false) {
    CreateVolumeRequest r;
    r.id = id;
    r.location = VolumeLocation::Rbd("rbd", "volume-" + id);
    r.size_bytes = kSize;
    r.encryption.format = format;
    r.encryption.engine = engine;
    r.native_rbd_format = native;
    return service_->CreateVolume(r);
  }

  TempDir tmp_;
  std::unique_ptr<RbdBackend> rbd_;
  std::unique_ptr<EmbeddedStack> stack_;
  KeyManager* keys_ = nullptr;
  VolumeStore* store_ = nullptr;
  VolumeService* service_ = nullptr;
};

}  // namespace testing
}  // namespace volcrypt

#endif  // VOLCRYPT_TESTS_CEPH_RBD_SERVICE_TEST_H_
