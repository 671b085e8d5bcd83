// What the conversion flows share (conversion.h): raw access to either
// side, the fingerprint that proves a plain volume, the view of a
// conversion row's side as a volume record, and the source's volume key.
#ifndef VOLCRYPT_LIB_VOLUMES_CONVERSION_SUPPORT_H_
#define VOLCRYPT_LIB_VOLUMES_CONVERSION_SUPPORT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "lib/copy/raw_volume.h"
#include "lib/volumes/flow_support.h"
#include "volcrypt/secret_bytes.h"
#include "volcrypt/volume_store.h"

namespace volcrypt {
namespace flows {

// The file, block device or RBD image at `where`.
absl::StatusOr<std::unique_ptr<RawVolume>> OpenRawAt(const FlowContext& ctx,
                                                     const VolumeLocation& where,
                                                     bool writable);

// "plain:<raw bytes>:<sha256 hex of the first MiB>": what a plain volume
// holds, so that nothing else is deleted in its place.
absl::StatusOr<std::string> PlainFingerprint(const FlowContext& ctx,
                                             const VolumeLocation& where);

// The side of `row` (the destination before the swap, the source after) as
// a volume record of `row.volume_id`, for the ownership checks.
VolumeRecord OtherSide(const ConversionRecord& row);

// How to read one side's payload.
struct PayloadSide {
  SecretBytes volume_key;  // empty for a plain volume
  uint64_t payload_offset = 0;
  uint32_t sector_size = 512;
};

// The payload side of `record` after checking that its location is what it
// says: for an encrypted one, a LUKS header with the recorded proof (or,
// without one, that the key opens), the aes-xts cipher (else
// Unimplemented), and room for the recorded size; for a plain one, no LUKS
// and at least the recorded size. FailedPrecondition (EEXIST) when the
// location holds something else; PermissionDenied if the key opens nothing.
absl::StatusOr<PayloadSide> LoadPayloadSide(const FlowContext& ctx,
                                            const VolumeRecord& record);

}  // namespace flows
}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_VOLUMES_CONVERSION_SUPPORT_H_
