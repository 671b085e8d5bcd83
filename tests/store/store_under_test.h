// The volume store contract runs against every VolumeStore implementation:
// each test program that links tests/store/volume_store_contract.cc defines
// NewStoreUnderTest() for its database.
#ifndef VOLCRYPT_TESTS_STORE_STORE_UNDER_TEST_H_
#define VOLCRYPT_TESTS_STORE_STORE_UNDER_TEST_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "volcrypt/volume_store.h"

namespace volcrypt {
namespace testing {

// One empty database for one test.
class StoreUnderTest {
 public:
  virtual ~StoreUnderTest() = default;
  // "" if the database cannot exist here (the test skips with this reason).
  virtual std::string SkipReason() const { return ""; }
  // A new connection to this test's database (safe after fork()).
  virtual absl::StatusOr<std::unique_ptr<VolumeStore>> Open(
      const VolumeStoreOptions& options) = 0;
  absl::StatusOr<std::unique_ptr<VolumeStore>> Open() {
    return Open(VolumeStoreOptions());
  }
  // Runs `sql` on this test's database behind the store's back, as an
  // operator or another program would (fails the test on error).
  virtual void Sql(const std::string& sql) = 0;
  // Writes `version` where the store keeps its schema version.
  virtual void SetSchemaVersion(int version) = 0;
};

std::unique_ptr<StoreUnderTest> NewStoreUnderTest();

// A volume record with everything set, for host `host`.
VolumeRecord TestVolume(const std::string& id, const std::string& host = "h1");

}  // namespace testing
}  // namespace volcrypt

#endif  // VOLCRYPT_TESTS_STORE_STORE_UNDER_TEST_H_
