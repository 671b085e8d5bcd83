#include "tests/support/embedded_stack.h"

#include <utility>

#include "lib/util/status_macros.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/mapped_backend.h"

namespace volcrypt {
namespace testing {

absl::StatusOr<std::unique_ptr<EmbeddedStack>> EmbeddedStack::Open(
    EmbeddedStackOptions options) {
  std::unique_ptr<EmbeddedStack> stack(new EmbeddedStack());
  if (options.master_key.empty()) {
    VOLCRYPT_ASSIGN_OR_RETURN(options.master_key, SecretBytes::Random(32));
  }
  if (options.logger == nullptr) options.logger = NullLogger();
  VOLCRYPT_ASSIGN_OR_RETURN(stack->keys_,
                            NewFileKeyManager(options.dir + "/keys",
                                              options.master_key.Clone(), options.logger));
  VOLCRYPT_ASSIGN_OR_RETURN(stack->store_,
                            OpenSqliteVolumeStore(options.dir + "/volumes.db"));
  stack->mapped_ = NewMappedBackend();
  stack->options_ = std::move(options);
  VOLCRYPT_ASSIGN_OR_RETURN(stack->service_,
                            stack->ServiceOver(stack->keys_.get(), stack->store_.get(),
                                               stack->mapped_.get()));
  return stack;
}

absl::StatusOr<std::unique_ptr<VolumeService>> EmbeddedStack::ServiceOver(
    KeyManager* keys, VolumeStore* store, BlockBackend* mapped) const {
  VolumeServiceOptions o;
  o.keys = keys;
  o.store = store;
  o.mapped = mapped;
  o.rbd = options_.rbd;
  o.attacher = options_.attacher;
  o.host = options_.host;
  o.logger = options_.logger;
  return VolumeService::Create(o);
}

}  // namespace testing
}  // namespace volcrypt
