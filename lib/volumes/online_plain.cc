// Adopting a plain volume's attachment for its online encryption
// (online_plain.h).
#include "lib/volumes/online_plain.h"

#include "absl/strings/str_cat.h"
#include "lib/util/status_macros.h"
#include "lib/volumes/flow_support.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace flows {

absl::StatusOr<absl::optional<DomainDiskInfo>> FindPlainLiveDisk(const FlowContext& ctx,
                                                                 const VolumeRecord& record) {
  if (ctx.attacher == nullptr || record.encrypted) return absl::optional<DomainDiskInfo>();
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<DomainDiskInfo> disks, ctx.attacher->ListSerialDisks());
  absl::optional<DomainDiskInfo> found;
  for (const DomainDiskInfo& d : disks) {
    if (d.serial != record.id || !d.live) continue;
    if (found) {
      return WrongStatus(record, absl::StrCat("libvirt has it live twice (", found->domain, " ",
                                              found->target_dev, ", ", d.domain, " ",
                                              d.target_dev, "); convert it with one user"));
    }
    found = d;
  }
  if (!found) return found;
  if (!found->secret_uuid.empty()) {
    return WrongStatus(record, absl::StrCat("it is recorded plain but libvirt domain ",
                                            found->domain, " decrypts its disk ",
                                            found->target_dev, " through a secret"));
  }
  // Any other user (by path or image, without our serial) would keep
  // writing to the source after the pivot.
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<std::string> users,
                            ctx.attacher->DomainsUsing(record.id, SourceOf(record)));
  if (users.size() != 1 || users[0] != found->domain) {
    return WrongStatus(record, "more than one libvirt domain uses it; detach the others first");
  }
  return found;
}

absl::StatusOr<AttachmentRecord> AdoptAttachment(const FlowContext& ctx,
                                                 const std::string& volume_id,
                                                 const DomainDiskInfo& disk) {
  AttachmentRecord a;
  a.volume_id = volume_id;
  a.host = ctx.host;
  a.domain = disk.domain;
  a.target_dev = disk.target_dev;
  a.live = true;
  a.config = disk.config;
  a.status = "attached";
  VOLCRYPT_RETURN_IF_ERROR(ctx.store->CreateAttachment(a));
  return ctx.store->GetAttachment(volume_id);
}

bool AdoptsAttachment(const ConversionRecord& row) {
  return row.online && row.prior_status == VolumeStatus::kAvailable;
}

absl::Status ForgetAdoptedAttachment(const FlowContext& ctx, const ConversionRecord& row) {
  if (!AdoptsAttachment(row) || row.phase != ConversionPhase::kCopying) return absl::OkStatus();
  return OkIfNotFound(ctx.store->DeleteAttachment(row.volume_id));
}

}  // namespace flows
}  // namespace volcrypt
