// File: volcrypt/fleet_rotation.h
// -----------------------------------------------------------------------------
// Rotating the keys of every volume of a host whose key is older than a
// cutoff: VolumeService::RotateKey per volume, in id order, with a callback
// per item.
//
//   FleetRotationOptions o;
//   o.key_created_before = time(nullptr) - 90 * 86400;  // --older-than 90d
//   o.on_item = [](const FleetRotationItem& item, const FleetRotationProgress& p) {...};
//   absl::StatusOr<FleetRotationReport> r = RotateFleetKeys(service, store, o);
//
// Exactly once: each volume is claimed by a compare-and-set that also checks
// that its key is still older than the cutoff (VolumeStore::BeginKeyRotation),
// so hosts running the same rotation against one database (PostgreSQL)
// rotate each volume once, and a rerun with the same cutoff resumes where a
// killed run stopped (a volume the kill left 'rekeying' is finished or undone
// by Reconcile; rerun after it). A cutoff given as an age (--older-than) is
// the same across reruns as long as the rotation takes less than that age.
//
// Thread safety: as VolumeService; the callback runs on the calling thread.
#ifndef VOLCRYPT_FLEET_ROTATION_H_
#define VOLCRYPT_FLEET_ROTATION_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "volcrypt/key_manager.h"
#include "volcrypt/secret_bytes.h"
#include "volcrypt/volume_service.h"
#include "volcrypt/volume_store.h"

namespace volcrypt {

enum class FleetRotationOutcome {
  kRotated,      // a new key is recorded and alone opens the volume
  kWouldRotate,  // dry run
  kSkipped,      // rotated by someone else meanwhile, or busy (another flow)
  kFailed,       // the error says why; the volume opens with its recorded key
};

// "rotated", "would-rotate", "skipped", "failed".
absl::string_view FleetRotationOutcomeName(FleetRotationOutcome outcome);

struct FleetRotationItem {
  std::string volume_id;
  FleetRotationOutcome outcome = FleetRotationOutcome::kFailed;
  std::string old_key_id;
  std::string new_key_id;  // kRotated only
  std::string error;       // kSkipped and kFailed: one line
};

struct FleetRotationProgress {
  int done = 0;   // items handled so far, this one included
  int total = 0;  // volumes matching when the run started
  double elapsed_seconds = 0;
};

struct FleetRotationOptions {
  std::string host;                // "": the service's host
  int64_t key_created_before = 0;  // Unix seconds; required (> 0)
  bool dry_run = false;
  int max_errors = 3;              // stop once more volumes than this failed
  // Only volumes whose key holds these bytes, read through `keys` (keys
  // migrate --rekey: the fixed key's, now under per-volume ids). Both or
  // neither; not owned.
  const SecretBytes* only_key_bytes = nullptr;
  KeyManager* keys = nullptr;
  std::function<void(const FleetRotationItem&, const FleetRotationProgress&)> on_item;
};

struct FleetRotationReport {
  std::string host;
  int rotated = 0;
  int failed = 0;
  int skipped = 0;
  bool aborted = false;  // more than max_errors failures stopped the run
  std::vector<FleetRotationItem> items;
};

// Rotates the key of every 'available' or 'in-use' volume of the host whose
// key was made before the cutoff. InvalidArgument without a cutoff; a store
// that cannot list is its error; a volume that fails is an item, not an error.
absl::StatusOr<FleetRotationReport> RotateFleetKeys(VolumeService& service,
                                                    VolumeStore& store,
                                                    const FleetRotationOptions& options);

// {"outcome", "volume_id", "old_key_id", "new_key_id"?, "error"?} on one line.
std::string FleetRotationItemToJson(const FleetRotationItem& item);
// {"host", "rotated", "failed", "skipped", "aborted", "items": [...]}.
std::string FleetRotationReportToJson(const FleetRotationReport& report);

}  // namespace volcrypt

#endif  // VOLCRYPT_FLEET_ROTATION_H_
