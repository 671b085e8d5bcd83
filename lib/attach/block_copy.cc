#include "lib/attach/block_copy.h"

#include <cerrno>
#include <chrono>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace {

// How libvirt names a disk source in its live XML (LiveDiskState).
std::string SourceName(const DiskSource& s) {
  if (s.type == DiskSource::Type::kNetwork) return absl::StrCat(s.pool, "/", s.image);
  return s.path;
}

// libvirt 9.0 opens a librbd-encrypted disk with a secret object it never
// creates for a block copy's destination, as for a hot-plug; QEMU then says
// "No secret with id '...-format-encryption-secret0'".
absl::Status ExplainStartError(const BlockCopyRequest& r, absl::Status s) {
  if (r.destination.engine == EncryptionEngine::kLibrbd &&
      absl::StrContains(s.message(), "No secret with id")) {
    return ErrnoError(absl::StatusCode::kUnimplemented, ENOTSUP,
                      absl::StrCat("this libvirt cannot open a librbd-encrypted "
                                   "destination live (libvirt 9.0 does not give "
                                   "QEMU the destination's secret); use the "
                                   "qemu engine (LUKS1) or convert offline. ",
                                   s.message()));
  }
  return s;
}

}  // namespace

absl::StatusOr<std::string> BuildCopyDestinationXml(const BlockCopyRequest& r) {
  DiskXmlOptions o = r.destination;
  o.target_dev = r.target_dev;
  o.volume_id = r.volume_id;
  return BuildDiskXml(o);
}

absl::Status CopyAndPivot(Attacher& attacher, const BlockCopyRequest& r) {
  const std::string what = absl::StrCat("block copy of ", r.target_dev, " in ", r.domain);
  VOLCRYPT_ASSIGN_OR_RETURN(const std::string xml, BuildCopyDestinationXml(r));
  const std::string destination = SourceName(r.destination.source);

  VOLCRYPT_ASSIGN_OR_RETURN(absl::optional<LiveDiskState> disk,
                            attacher.InspectLiveDisk(r.domain, r.target_dev));
  if (!disk) {
    return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                      absl::StrCat(what, ": no disk on ", r.target_dev));
  }
  if (disk->serial != r.volume_id) {
    return ErrnoError(absl::StatusCode::kFailedPrecondition, EBUSY,
                      absl::StrCat(what, ": ", r.target_dev, " holds another disk "
                                   "(serial '", disk->serial, "')"));
  }
  if (disk->copying) {
    return ErrnoError(absl::StatusCode::kFailedPrecondition, EBUSY,
                      absl::StrCat(what, ": a block copy to ", disk->copy_destination,
                                   " already runs"));
  }
  if (disk->source == destination) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": the destination is the disk's own source"));
  }
  // QEMU checks this only once the job runs, and then fails it with no
  // reason libvirt passes on ("Copy failed").
  if (disk->capacity_bytes != r.destination_payload_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": the destination holds ", r.destination_payload_bytes,
        " bytes for the guest, the disk ", disk->capacity_bytes,
        "; a copy needs exactly the same size"));
  }

  absl::Status started = attacher.StartBlockCopy(r.domain, r.target_dev, xml, r.bandwidth);
  if (!started.ok()) return ExplainStartError(r, std::move(started));

  // From here on a failure ends the job without a pivot: the guest stays on
  // its source, which never stopped receiving its writes.
  auto abandon = [&](absl::Status why) {
    absl::Status aborted = attacher.AbortBlockCopy(r.domain, r.target_dev);
    if (!aborted.ok()) {
      return absl::Status(why.code(), absl::StrCat(why.message(), "; and the job could "
                                                   "not be aborted: ", aborted.message()));
    }
    return why;
  };
  for (;;) {
    absl::StatusOr<absl::optional<LiveDiskState>> now =
        attacher.InspectLiveDisk(r.domain, r.target_dev);
    if (!now.ok()) return abandon(now.status());
    if (!*now) {
      return ErrnoError(absl::StatusCode::kAborted, ENODEV,
                        absl::StrCat(what, ": the disk went away during the copy"));
    }
    if (!(*now)->copying) {
      // Someone else pivoted (a concurrent run of this flow): done.
      if ((*now)->source == destination) return absl::OkStatus();
      return ErrnoError(absl::StatusCode::kAborted, EIO,
                        absl::StrCat(what, " to ", destination, ": QEMU ended the "
                                     "copy before it was ready; the guest stays on "
                                     "its source"));
    }
    if (r.on_progress && !r.on_progress((*now)->copied_bytes, (*now)->copy_total_bytes)) {
      return abandon(ErrnoError(absl::StatusCode::kCancelled, ECANCELED,
                                absl::StrCat(what, ": cancelled")));
    }
    if ((*now)->copy_ready) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(r.poll_ms));
  }

  absl::Status pivoted = attacher.PivotBlockCopy(r.domain, r.target_dev);
  // libvirt's answer may be lost: the live XML says where the disk is.
  VOLCRYPT_ASSIGN_OR_RETURN(disk, attacher.InspectLiveDisk(r.domain, r.target_dev));
  if (disk && !disk->copying && disk->source == destination) return absl::OkStatus();
  if (pivoted.ok()) pivoted = absl::InternalError(absl::StrCat(what, ": pivot returned "
                                                               "but the disk is not on ",
                                                               destination));
  return abandon(std::move(pivoted));
}

}  // namespace volcrypt
