// The fixture the flows' unit tests share: a file key manager, an SQLite
// store and the mapped backend in a temporary directory, each behind its
// fault injector (faults.h) driven by one FaultPlan, and a VolumeService
// over them for host "host-a". Reopen() drops and reopens everything, as a
// new process would after a crash.
#ifndef VOLCRYPT_TESTS_SUPPORT_FAULTY_FILE_SERVICE_H_
#define VOLCRYPT_TESTS_SUPPORT_FAULTY_FILE_SERVICE_H_

#include <memory>
#include <utility>

#include <gtest/gtest.h>

#include "tests/support/faults.h"
#include "tests/support/test_support.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/logger.h"
#include "volcrypt/mapped_backend.h"
#include "volcrypt/secret_bytes.h"
#include "volcrypt/volume_service.h"
#include "volcrypt/volume_store.h"

namespace volcrypt {
namespace testing {

class FaultyFileServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    master_ = SecretBytes::Random(32).value();
    Reopen();
  }

  // (Re)opens every component, as a new process would.
  void Reopen() {
    service_.reset();
    keys_ = std::move(NewFileKeyManager(tmp_.File("keys"), master_.Clone(), nullptr).value());
    store_ = std::move(OpenSqliteVolumeStore(tmp_.File("volumes.db")).value());
    backend_ = NewMappedBackend();
    plan_ = FaultPlan();
    faulty_keys_ = std::make_unique<FaultyKeyManager>(keys_.get(), &plan_);
    faulty_store_ = std::make_unique<FaultyStore>(store_.get(), &plan_);
    faulty_backend_ = std::make_unique<FaultyBackend>(backend_.get(), &plan_);
    service_ = NewService(faulty_keys_.get(), NullLogger());
  }

  // A service over the fault-injecting store and backend with `keys`.
  std::unique_ptr<VolumeService> NewService(KeyManager* keys, Logger* logger) {
    VolumeServiceOptions o;
    o.keys = keys;
    o.store = faulty_store_.get();
    o.mapped = faulty_backend_.get();
    o.host = "host-a";
    o.logger = logger;
    return std::move(VolumeService::Create(o).value());
  }

  TempDir tmp_;
  SecretBytes master_;
  std::unique_ptr<KeyManager> keys_;
  std::unique_ptr<VolumeStore> store_;
  std::unique_ptr<BlockBackend> backend_;
  FaultPlan plan_;
  std::unique_ptr<FaultyKeyManager> faulty_keys_;
  std::unique_ptr<FaultyStore> faulty_store_;
  std::unique_ptr<FaultyBackend> faulty_backend_;
  std::unique_ptr<VolumeService> service_;
};

}  // namespace testing
}  // namespace volcrypt

#endif  // VOLCRYPT_TESTS_SUPPORT_FAULTY_FILE_SERVICE_H_
