// Key rotation: a volume gets a new key without copying its data. The LUKS
// volume key stays; only the passphrase that opens the header changes.
//
// The steps of RotateKey, and what a failure or a kill at each leaves:
//   0. 'available' or 'in-use' -> 'rekeying' (compare-and-set, and only while
//      the key was made before the caller's cutoff: a fleet run by two hosts
//      rotates each volume once). Failure: nothing changed.
//   1. Create the new key, named after the volume, with the old key's length.
//      Kill: the key is recorded nowhere; the finish finds it by its name and
//      deletes it (no record names it, and no keyslot was made for it).
//   2. Record it as the rotation's other key (rekey_key_id).
//   3. Add a keyslot for its passphrase (machine-key KDF) to a copy of the
//      header, then write the header back keyslots-first. Kill: the header
//      opens with the old key (and perhaps the new one).
//   4. Attached volume: set the libvirt secret's value to the new passphrase,
//      so that it opens the header at every instant (both keyslots are there).
//   5. Swap: the new key id becomes the recorded one, the old one the other
//      key; key_created_at = now.
//   6. The finish: remove every keyslot the other key opens, delete that key
//      unless a snapshot or backup still names it, back to the status before.
//
// The finish (FinishRotation) is also what a failure and Reconcile run. It
// goes by what the header opens with, not by how far the record says the
// rotation got: the recorded key is kept if it opens the header (back before
// step 5, forward after); else, if the other key opens it, that one is made
// the recorded key; if neither does (the header is not this record's),
// the header and the recorded key are left alone, the other key (which opens
// nothing there) is deleted and the volume is marked 'error' for an operator. A key is deleted only when no record
// names it, never one that opens a keyslot of the header whose record names
// it. Its end state: the volume opens with its recorded key only, and it has
// exactly one key of its own (snapshots keep theirs).
#ifndef VOLCRYPT_LIB_VOLUMES_KEY_ROTATION_H_
#define VOLCRYPT_LIB_VOLUMES_KEY_ROTATION_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "lib/volumes/flow_support.h"
#include "volcrypt/volume_store.h"

namespace volcrypt {
namespace flows {

// Rotates the key of volume `id` if its key was made before
// `key_created_before` (Unix seconds); FailedPrecondition with errno EALREADY
// if it was not (already rotated), EBUSY unless 'available' or 'in-use'.
// Returns the record as the rotation left it.
absl::StatusOr<VolumeRecord> RotateKey(const FlowContext& ctx, const std::string& id,
                                       int64_t key_created_before);

// Finishes or undoes the rotation of `record` (in 'rekeying'), as above.
absl::Status FinishRotation(const FlowContext& ctx, const VolumeRecord& record);

}  // namespace flows
}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_VOLUMES_KEY_ROTATION_H_
