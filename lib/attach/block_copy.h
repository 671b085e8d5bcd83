// Moving a running domain's disk onto another volume while the guest runs:
// libvirt's block copy (virDomainBlockCopy, a QEMU mirror job), then a pivot.
// The destination exists already, formatted (its own LUKS header, or none),
// and its libvirt secret is defined: QEMU opens it through its own LUKS
// driver (or librbd's), copies every guest-visible byte and every write the
// guest makes meanwhile, and the pivot switches the disk over in one step.
// libvirt rewrites the live and the persistent definition to name the
// destination (with its <encryption> and secret).
//
//   BlockCopyRequest r;
//   r.domain = "instance-1";  r.target_dev = "sdb";  r.volume_id = "v1";
//   r.destination = ...;      // DiskXmlOptions: source, format, engine, secret
//   r.destination_payload_bytes = usable;  // must equal the guest's size
//   absl::Status s = CopyAndPivot(attacher, r);
//
// What each step leaves, on failure or a kill of the caller:
//   1. checks (disk there, its serial is the volume, no copy running, sizes
//      equal, the destination is one libvirt 9.0 can open live): nothing
//      started; the guest stays on its source.
//   2. copy started, 3. copying, 4. ready: a failure aborts the job (the
//      guest stays on its source, which holds every write); a kill leaves
//      the job mirroring in libvirt, and the guest on its source. The
//      caller's recovery aborts it (AbortBlockCopy; InspectLiveDisk shows
//      `copying`), or pivots it.
//   5. pivot: once libvirt returns, the live disk and the persistent config
//      name the destination; the source is no longer used by the domain.
//      A kill around it is resolved by asking libvirt which source the live
//      disk names (InspectLiveDisk), never by the caller's records.
// The source is never written by this flow: until it is wiped it remains a
// complete copy (plaintext, or under the old key), as of the pivot.
#ifndef VOLCRYPT_LIB_ATTACH_BLOCK_COPY_H_
#define VOLCRYPT_LIB_ATTACH_BLOCK_COPY_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "volcrypt/attach_xml.h"
#include "volcrypt/attacher.h"

namespace volcrypt {

// Called while the copy runs with libvirt's progress (bytes done of total;
// total may grow while the guest writes). Returning false cancels the copy
// (it is aborted and CopyAndPivot returns Cancelled).
using BlockCopyProgress = std::function<bool(uint64_t copied, uint64_t total)>;

struct BlockCopyRequest {
  std::string domain;      // running, name or UUID
  std::string target_dev;  // the disk to move ("sdb")
  std::string volume_id;   // its <serial>: never someone else's disk
  // The destination disk (its target and serial are taken from the above).
  DiskXmlOptions destination;
  // What a guest would see of the destination (its size less its header);
  // must equal the disk's size exactly, or QEMU fails the copy later.
  uint64_t destination_payload_bytes = 0;
  uint64_t bandwidth = 0;  // bytes per second; 0: as fast as it goes
  int poll_ms = 100;       // how often progress is read
  BlockCopyProgress on_progress;
};

// The destination XML libvirt gets: the disk XML of `r.destination` on the
// request's target, with its <encryption> in <source>. Without that element
// QEMU would write plaintext over a LUKS header, so it is always there.
absl::StatusOr<std::string> BuildCopyDestinationXml(const BlockCopyRequest& r);

// Checks, copies, follows and pivots (see the top of this file). Errors:
// NotFound (no domain, or no disk on the target), FailedPrecondition (the
// domain is not running, the disk is another volume's, a copy already runs
// (EBUSY)), InvalidArgument (sizes differ: the two sizes named),
// Unimplemented (a destination this libvirt cannot open live, with libvirt's
// words), Aborted (QEMU ended the copy before it was ready: the guest stays
// on its source), Cancelled (on_progress said stop), or libvirt's error.
absl::Status CopyAndPivot(Attacher& attacher, const BlockCopyRequest& r);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_ATTACH_BLOCK_COPY_H_
