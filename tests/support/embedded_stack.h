// The embedded stack that tests and benchmarks build on: a FileKeyManager and
// a SQLite store in one directory, the mapped backend, and a VolumeService
// over them (plus an RBD backend or a libvirt connection when given). It
// links no test framework, so benchmarks use it too.
#ifndef VOLCRYPT_TESTS_SUPPORT_EMBEDDED_STACK_H_
#define VOLCRYPT_TESTS_SUPPORT_EMBEDDED_STACK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "volcrypt/attacher.h"
#include "volcrypt/block_backend.h"
#include "volcrypt/key_manager.h"
#include "volcrypt/logger.h"
#include "volcrypt/rbd_backend.h"
#include "volcrypt/secret_bytes.h"
#include "volcrypt/volume_service.h"
#include "volcrypt/volume_store.h"

namespace volcrypt {
namespace testing {

struct EmbeddedStackOptions {
  std::string dir;                // keys/ and volumes.db are made here
  std::string host = "host-a";
  SecretBytes master_key;         // empty: a new random one
  RbdBackend* rbd = nullptr;      // not owned
  Attacher* attacher = nullptr;   // not owned
  Logger* logger = nullptr;       // nullptr: NullLogger()
};

class EmbeddedStack {
 public:
  static absl::StatusOr<std::unique_ptr<EmbeddedStack>> Open(
      EmbeddedStackOptions options);

  KeyManager& keys() { return *keys_; }
  VolumeStore& store() { return *store_; }
  BlockBackend& mapped() { return *mapped_; }
  VolumeService& service() { return *service_; }

  // Another service on the same backends, host and libvirt, over `keys`
  // and `store` (fault injectors around this stack's own, for example).
  absl::StatusOr<std::unique_ptr<VolumeService>> ServiceOver(KeyManager* keys,
                                                             VolumeStore* store,
                                                             BlockBackend* mapped) const;

 private:
  EmbeddedStack() = default;

  EmbeddedStackOptions options_;
  std::unique_ptr<KeyManager> keys_;
  std::unique_ptr<VolumeStore> store_;
  std::unique_ptr<BlockBackend> mapped_;
  std::unique_ptr<VolumeService> service_;
};

}  // namespace testing
}  // namespace volcrypt

#endif  // VOLCRYPT_TESTS_SUPPORT_EMBEDDED_STACK_H_
