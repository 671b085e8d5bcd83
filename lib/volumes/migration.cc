#include "lib/volumes/migration.h"

#include <sys/stat.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/util/status_macros.h"
#include "lib/volumes/key_steps.h"
#include "volcrypt/attach_xml.h"
#include "volcrypt/attacher.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace flows {
namespace {

constexpr char kMigrating[] = "migrating";

// A volume of the domain being moved, with its attachment row.
struct Item {
  VolumeRecord record;
  AttachmentRecord attachment;
};

// The secret the attachment's disk uses (rows before schema 4: the key id).
const std::string& SecretOf(const Item& item) {
  return flows::SecretOf(item.record, item.attachment);
}

absl::Status CheckRequest(const FlowContext& ctx, const MigrationRequest& request,
                          bool need_destination) {
  if (ctx.attacher == nullptr) {
    return absl::FailedPreconditionError("no libvirt connection (attacher) is configured");
  }
  if (request.domain.empty()) return absl::InvalidArgumentError("migration needs a domain");
  if (need_destination && request.destination == nullptr) {
    return absl::InvalidArgumentError("migration needs the destination's libvirt connection");
  }
  return absl::OkStatus();
}

// The volumes in `status` whose attachment on this host names `domain`.
absl::Status CollectItems(const FlowContext& ctx, const std::string& domain,
                          VolumeStatus status, std::vector<Item>* out) {
  VolumeFilter filter;
  filter.status = status;
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<VolumeRecord> records, ctx.store->ListVolumes(filter));
  for (VolumeRecord& r : records) {
    absl::StatusOr<AttachmentRecord> a = ctx.store->GetAttachment(r.id);
    if (absl::IsNotFound(a.status())) continue;
    if (!a.ok()) return a.status();
    if (a->domain != domain || a->host != ctx.host) continue;
    out->push_back(Item{std::move(r), *a});
  }
  return absl::OkStatus();
}

// Whether `disks` has `item`'s disk, live, in its domain (as recorded).
bool HasLiveDisk(const std::vector<DomainDiskInfo>& disks, const Item& item) {
  for (const DomainDiskInfo& d : disks) {
    if (d.domain == item.attachment.domain && d.serial == item.record.id && d.live &&
        d.target_dev == item.attachment.target_dev && d.secret_uuid == SecretOf(item)) {
      return true;
    }
  }
  return false;
}

// Only storage both hosts see moves: RBD, or a regular file (the caller
// asserts its path is shared). A block device at a path may be another
// disk, or none, on the destination.
absl::Status CheckShared(const Item& item, bool* file) {
  if (item.record.location.kind == BackendKind::kRbd) return absl::OkStatus();
  const std::string& path = item.record.location.path;
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    *file = true;
    return absl::OkStatus();
  }
  return ErrnoError(absl::StatusCode::kFailedPrecondition, EOPNOTSUPP,
                    absl::StrCat("volume ", item.record.id, " is ",
                                 path, ", which is not a regular file: a mapped block "
                                 "device can be another disk or none on the destination, "
                                 "so its domain is not migrated; detach it first"));
}

// An rbd disk moves with its <auth>, which names the same libvirt ceph
// secret on the destination: without it, libvirt's migration would fail
// late, in QEMU's connect on the destination.
absl::Status CheckDestinationCephAuth(const FlowContext& ctx, const Item& item,
                                      Attacher& destination) {
  if (item.record.location.kind != BackendKind::kRbd) return absl::OkStatus();
  VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend * backend, ctx.BackendFor(item.record.location));
  VOLCRYPT_ASSIGN_OR_RETURN(DiskSource source, backend->DescribeDisk(item.record.location));
  if (source.auth_secret_uuid.empty()) return absl::OkStatus();
  return Annotate(destination.CheckCephSecret(source.auth_secret_uuid, nullptr),
                  "volume " + item.record.id + " on the destination");
}

// The records of `item` become `host`'s, attached: the attachment row
// first, then the volume (whose host follows its attachment, so that
// `host`'s Reconcile looks after it). Each step is idempotent, so a rerun
// after a kill between them finishes the job.
absl::Status Claim(const FlowContext& ctx, Item& item, const std::string& host) {
  item.attachment.host = host;
  item.attachment.status = "attached";
  VOLCRYPT_RETURN_IF_ERROR(ctx.store->UpdateAttachment(item.attachment));
  item.record.host = host;
  return MoveTo(ctx, item.record, VolumeStatus::kInUse);
}

}  // namespace

absl::StatusOr<MigrationPlan> PrepareMigration(const FlowContext& ctx,
                                               const MigrationRequest& request) {
  VOLCRYPT_RETURN_IF_ERROR(CheckRequest(ctx, request, true));
  if (request.destination_host.empty() || request.destination_host == ctx.host) {
    return absl::InvalidArgumentError(absl::StrCat(
        "migration of ", request.domain, " needs a destination host other than ", ctx.host));
  }
  // A volume already 'migrating' belongs to another migration, running or
  // killed: taking it up here could end with records on one host and the
  // domain on the other. Reconcile settles a killed one first.
  std::vector<Item> busy;
  VOLCRYPT_RETURN_IF_ERROR(CollectItems(ctx, request.domain, VolumeStatus::kMigrating, &busy));
  if (!busy.empty()) {
    return ErrnoError(absl::StatusCode::kFailedPrecondition, EBUSY,
                      absl::StrCat("volume ", busy[0].record.id, " of domain ", request.domain,
                                   " is migrating already (under way, or interrupted: "
                                   "reconcile on both hosts settles it)"));
  }
  std::vector<Item> items;
  VOLCRYPT_RETURN_IF_ERROR(CollectItems(ctx, request.domain, VolumeStatus::kInUse, &items));

  // libvirt's domain XML is the truth: every recorded disk must be there,
  // and no disk decrypted through a secret of ours may lack a record.
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<DomainDiskInfo> disks, ctx.attacher->ListSerialDisks());
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<LibvirtSecretInfo> ours,
                            ctx.attacher->ListVolcryptSecrets());
  MigrationPlan plan;
  for (const Item& item : items) {
    if (!HasLiveDisk(disks, item)) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, ENOENT,
                        absl::StrCat("volume ", item.record.id, " is recorded on ",
                                     item.attachment.target_dev, " of running domain ",
                                     request.domain, ", which libvirt does not show; "
                                     "run reconcile first"));
    }
    VOLCRYPT_RETURN_IF_ERROR(CheckShared(item, &plan.files));
    VOLCRYPT_RETURN_IF_ERROR(CheckDestinationCephAuth(ctx, item, *request.destination));
    plan.volume_ids.push_back(item.record.id);
  }
  for (const DomainDiskInfo& d : disks) {
    if (d.domain != request.domain || !d.live) continue;
    bool recorded = false;
    for (const Item& item : items) recorded = recorded || item.record.id == d.serial;
    bool volcrypt_secret = false;
    for (const LibvirtSecretInfo& s : ours) volcrypt_secret |= s.uuid == d.secret_uuid;
    if (volcrypt_secret && !recorded) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, EBUSY,
                        absl::StrCat("disk ", d.target_dev, " of domain ", request.domain,
                                     " is decrypted through a volcrypt secret that no "
                                     "attachment record on this host explains; run "
                                     "reconcile first"));
    }
  }

  // Rows first: a kill after this leaves 'migrating' for Reconcile. A
  // volume another flow took meanwhile (compare-and-set) undoes the rest.
  for (Item& item : items) {
    absl::Status s = MoveTo(ctx, item.record, VolumeStatus::kMigrating);
    if (s.ok()) {
      item.attachment.status = kMigrating;
      s = ctx.store->UpdateAttachment(item.attachment);
    }
    if (!s.ok()) {
      absl::Status undo = AbortMigration(ctx, request);
      return Annotate(s, undo.ok() ? "prepare migration"
                                   : absl::StrCat("prepare migration (undo incomplete, left "
                                                  "for reconcile: ", undo.message(), ")"));
    }
  }
  for (const Item& item : items) {
    absl::Status s = [&]() -> absl::Status {
      // The same kind of secret as the source's: an ephemeral one never
      // reaches the destination daemon's disk either.
      absl::StatusOr<bool> ephemeral = ctx.attacher->SecretIsEphemeral(SecretOf(item));
      if (!ephemeral.ok() && !absl::IsUnimplemented(ephemeral.status())) {
        return ephemeral.status();
      }
      AttachPlan secret;
      secret.volume_id = item.record.id;
      secret.secret_uuid = SecretOf(item);
      VOLCRYPT_ASSIGN_OR_RETURN(secret.passphrase, PassphraseOf(ctx, item.record));
      VOLCRYPT_ASSIGN_OR_RETURN(
          secret.secret_xml,
          BuildSecretXml(secret.secret_uuid, item.record.id, ephemeral.value_or(true)));
      return request.destination->DefineSecret(secret);
    }();
    if (!s.ok()) {
      absl::Status undo = AbortMigration(ctx, request);
      return Annotate(s, undo.ok()
                             ? absl::StrCat("volume ", item.record.id, " on the destination")
                             : absl::StrCat("volume ", item.record.id,
                                            " on the destination (undo incomplete, left "
                                            "for reconcile: ", undo.message(), ")"));
    }
  }
  return plan;
}

absl::Status FinishMigration(const FlowContext& ctx, const MigrationRequest& request) {
  VOLCRYPT_RETURN_IF_ERROR(CheckRequest(ctx, request, true));
  if (request.destination_host.empty()) {
    return absl::InvalidArgumentError("finishing a migration needs the destination host");
  }
  std::vector<Item> items;
  VOLCRYPT_RETURN_IF_ERROR(CollectItems(ctx, request.domain, VolumeStatus::kMigrating, &items));
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<DomainDiskInfo> there,
                            request.destination->ListSerialDisks());
  for (const Item& item : items) {
    if (!HasLiveDisk(there, item)) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, ENOENT,
                        absl::StrCat("domain ", request.domain, " does not run with volume ",
                                     item.record.id, " on the destination; abort instead"));
    }
  }
  for (Item& item : items) {
    VOLCRYPT_RETURN_IF_ERROR(Claim(ctx, item, request.destination_host));
  }
  absl::Status first_error;
  for (const Item& item : items) {
    absl::Status s = ctx.attacher->RemoveSecretIfUnused(SecretOf(item)).status();
    if (!s.ok() && first_error.ok()) {
      first_error = Annotate(s, "migration finished; the source's secret of volume " +
                                    item.record.id + " is left for its reconcile");
    }
  }
  return first_error;
}

absl::Status AbortMigration(const FlowContext& ctx, const MigrationRequest& request) {
  VOLCRYPT_RETURN_IF_ERROR(CheckRequest(ctx, request, false));
  std::vector<Item> items;
  VOLCRYPT_RETURN_IF_ERROR(CollectItems(ctx, request.domain, VolumeStatus::kMigrating, &items));
  // Only while the domain still runs here: records never follow a guess.
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<DomainDiskInfo> here, ctx.attacher->ListSerialDisks());
  for (const Item& item : items) {
    if (!HasLiveDisk(here, item)) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, ENOENT,
                        absl::StrCat("domain ", request.domain, " no longer runs with volume ",
                                     item.record.id, " here; finish the migration, or "
                                     "reconcile on the host that has it"));
    }
  }
  // Rows first: once they say 'here', any secret of ours left on the
  // destination is one that no record explains, which its Reconcile removes.
  for (Item& item : items) VOLCRYPT_RETURN_IF_ERROR(Claim(ctx, item, ctx.host));
  if (request.destination == nullptr) return absl::OkStatus();
  absl::Status first_error;
  for (const Item& item : items) {
    absl::Status s = request.destination->RemoveSecretIfUnused(SecretOf(item)).status();
    if (!s.ok() && first_error.ok()) {
      first_error = Annotate(s, "migration undone; the destination's secret of volume " +
                                    item.record.id + " is left for its reconcile");
    }
  }
  return first_error;
}

absl::StatusOr<int> ReconcileMigrations(const FlowContext& ctx, int64_t cutoff) {
  if (ctx.attacher == nullptr) return 0;
  VolumeFilter filter;
  filter.status = VolumeStatus::kMigrating;
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<VolumeRecord> records, ctx.store->ListVolumes(filter));
  int acted = 0;
  for (VolumeRecord& r : records) {
    if (r.updated_at > cutoff) continue;  // a migration may be under way
    absl::StatusOr<AttachmentRecord> a = ctx.store->GetAttachment(r.id);
    if (!a.ok()) return a.status();
    Item item{std::move(r), *a};
    VOLCRYPT_ASSIGN_OR_RETURN(std::vector<std::string> domains,
                              ctx.attacher->DomainsUsing(item.record.id, SourceOf(item.record)));
    bool here = false;
    for (const std::string& d : domains) here = here || d == item.attachment.domain;
    if (here) {
      ctx.log->Log(LogLevel::kWarning,
                   absl::StrCat("volume ", item.record.id, ": an interrupted migration of ",
                                item.attachment.domain, " ends here, where libvirt has it"));
      VOLCRYPT_RETURN_IF_ERROR(Claim(ctx, item, ctx.host));
      ++acted;
      continue;
    }
    VOLCRYPT_ASSIGN_OR_RETURN(bool removed, ctx.attacher->RemoveSecretIfUnused(SecretOf(item)));
    if (removed) {
      ++acted;
      ctx.log->Log(LogLevel::kWarning,
                   absl::StrCat("volume ", item.record.id, ": removed this host's secret ",
                                SecretOf(item), " of an interrupted migration of ",
                                item.attachment.domain, ", which does not run here"));
    }
  }
  return acted;
}

absl::StatusOr<std::set<std::string>> MigratingSecrets(const FlowContext& ctx) {
  VolumeFilter filter;
  filter.status = VolumeStatus::kMigrating;
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<VolumeRecord> records, ctx.store->ListVolumes(filter));
  std::set<std::string> out;
  for (VolumeRecord& r : records) {
    absl::StatusOr<AttachmentRecord> a = ctx.store->GetAttachment(r.id);
    if (absl::IsNotFound(a.status())) continue;
    if (!a.ok()) return a.status();
    out.insert(SecretOf(Item{std::move(r), *a}));
  }
  return out;
}

}  // namespace flows
}  // namespace volcrypt
