// The key steps of every flow: a volume's key is named after it (so a
// reconciler finds a key whose id was never recorded), registered with the
// volume as its consumer, turned into the LUKS passphrase (its hex), and
// forgotten (consumer removed, key deleted) unless it is the shared fixed key.
#ifndef VOLCRYPT_LIB_VOLUMES_KEY_STEPS_H_
#define VOLCRYPT_LIB_VOLUMES_KEY_STEPS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/volumes/flow_support.h"
#include "volcrypt/key_manager.h"
#include "volcrypt/secret_bytes.h"

namespace volcrypt {
namespace flows {

// Creates the key of `record` (its spec's length, named after it), records
// its id in `record` (not yet in the store) and `progress`, and registers the
// volume as its consumer. Returns the key's bytes.
absl::StatusOr<SecretBytes> CreateVolumeKey(const FlowContext& ctx,
                                            VolumeRecord& record,
                                            CreateProgress& progress);

// The same for a clone: `bytes` (its parent's) stored under a new key id.
absl::Status StoreVolumeKey(const FlowContext& ctx, VolumeRecord& record,
                            const SecretBytes& bytes, CreateProgress& progress);

// The LUKS passphrase of `record`: the hex of its key, or the key's bytes as
// they are for a record whose key_format is KeyFormat::kPassphrase.
absl::StatusOr<SecretBytes> PassphraseOf(const FlowContext& ctx,
                                         const VolumeRecord& record);

// Removes `volume_id` as a consumer of `key_id` and deletes the key. Not
// found is fine; a shared key (the fixed key) is never deleted.
absl::Status ForgetKey(const FlowContext& ctx, const std::string& volume_id,
                       const std::string& key_id);

// Forgets the keys named for `record` that nothing references (no record,
// not released by an unmanage) other than its recorded one: keys a create
// stored without recording them (a crash, a lost answer).
absl::Status ForgetKeysNamedFor(const FlowContext& ctx, const VolumeRecord& record);

}  // namespace flows
}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_VOLUMES_KEY_STEPS_H_
