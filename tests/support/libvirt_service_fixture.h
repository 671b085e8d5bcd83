// A VolumeService over real components (file keys, SQLite, mapped volumes)
// and the private libvirtd of tests/libvirt/libvirt_testbed.h, with fault
// injection on keys, store and attacher (faults_), and one running domain
// the subclass names. Header-only: the programs that use it link
// libvirt_testbed.cc.
#ifndef VOLCRYPT_TESTS_SUPPORT_LIBVIRT_SERVICE_FIXTURE_H_
#define VOLCRYPT_TESTS_SUPPORT_LIBVIRT_SERVICE_FIXTURE_H_

#include <memory>

#include <gtest/gtest.h>

#include "tests/libvirt/libvirt_testbed.h"
#include "tests/support/faults.h"
#include "tests/support/test_support.h"
#include "volcrypt/attacher.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/mapped_backend.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace testing {

class LibvirtServiceFixture : public ::testing::Test {
 protected:
  explicit LibvirtServiceFixture(const char* domain) : domain_(domain) {}

  void SetUp() override {
    if (LibvirtTestbed::uri().empty()) GTEST_SKIP() << LibvirtTestbed::skip_reason();
    keys_ = std::move(NewFileKeyManager(tmp_.File("keys"), SecretBytes::Random(32).value(),
                                        NullLogger()).value());
    store_ = std::move(OpenSqliteVolumeStore(tmp_.File("volumes.db")).value());
    faulty_keys_ = std::make_unique<FaultyKeyManager>(keys_.get(), &faults_);
    faulty_store_ = std::make_unique<FaultyStore>(store_.get(), &faults_);
    mapped_ = NewMappedBackend();
    attacher_ = std::move(Attacher::Connect(LibvirtTestbed::uri()).value());
    faulty_attacher_ = std::make_unique<FaultyAttacher>(attacher_.get(), &faults_);
    VolumeServiceOptions o;
    o.keys = faulty_keys_.get();
    o.store = faulty_store_.get();
    o.mapped = mapped_.get();
    o.attacher = faulty_attacher_.get();
    o.host = "host-a";
    o.logger = NullLogger();
    service_ = std::move(VolumeService::Create(o).value());
    probe_.DefineDomain(domain_, /*start=*/true);
  }

  void TearDown() override {
    if (LibvirtTestbed::uri().empty()) return;
    probe_.DestroyAndUndefine(domain_);
  }

  const char* const domain_;
  TempDir tmp_;
  LibvirtProbe probe_;
  FaultPlan faults_;
  std::unique_ptr<KeyManager> keys_;
  std::unique_ptr<VolumeStore> store_;
  std::unique_ptr<FaultyKeyManager> faulty_keys_;
  std::unique_ptr<FaultyStore> faulty_store_;
  std::unique_ptr<BlockBackend> mapped_;
  std::unique_ptr<Attacher> attacher_;
  std::unique_ptr<FaultyAttacher> faulty_attacher_;
  std::unique_ptr<VolumeService> service_;
};

}  // namespace testing
}  // namespace volcrypt

#endif  // VOLCRYPT_TESTS_SUPPORT_LIBVIRT_SERVICE_FIXTURE_H_
