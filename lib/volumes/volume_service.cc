// VolumeService: where requests enter. It checks what callers hand in (ids)
// once, then hands each request to its flow: volume_lifecycle.cc (create,
// delete, extend), attach_flows.cc, rbd_flows.cc (snapshots, clones); the
// steps they share are in flow_support.cc and key_steps.cc. Reconcile, which
// spans every flow, is here.
#include "volcrypt/volume_service.h"

#include <ctime>

#include "absl/strings/str_cat.h"
#include "lib/util/fd_io.h"
#include "lib/util/host_name.h"
#include "lib/util/quote.h"
#include "lib/util/status_macros.h"
#include "lib/volumes/attach_flows.h"
#include "lib/volumes/conversion.h"
#include "lib/volumes/online_conversion.h"
#include "lib/volumes/flow_support.h"
#include "lib/volumes/key_rotation.h"
#include "lib/volumes/key_steps.h"
#include "lib/volumes/manage_flows.h"
#include "lib/volumes/migration.h"
#include "lib/volumes/rbd_flows.h"
#include "lib/volumes/volume_lifecycle.h"
#include "volcrypt/errors.h"
#include "volcrypt/luks.h"
#include "volcrypt/rbd_backend.h"

namespace volcrypt {
namespace {

// Volume and snapshot ids become RBD snapshot names, key names and libvirt
// serials, so they are held to a small character set.
absl::Status CheckId(absl::string_view what, const std::string& id) {
  bool ok = !id.empty() && id.size() <= 128;
  for (char c : id) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.');
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " ", QuoteForMessage(id),
                   " must be 1 to 128 letters, digits, '-', '_' or '.'"));
}

absl::Status CheckVolumeId(const std::string& id) { return CheckId("volume id", id); }

}  // namespace

struct VolumeService::Parts {
  flows::FlowContext ctx;
};

VolumeService::VolumeService(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

VolumeService::~VolumeService() = default;

absl::StatusOr<std::unique_ptr<VolumeService>> VolumeService::Create(
    const VolumeServiceOptions& options) {
  if (options.keys == nullptr || options.store == nullptr) {
    return absl::InvalidArgumentError(
        "a volume service needs a key manager and a volume store");
  }
  if (options.mapped == nullptr && options.rbd == nullptr) {
    return absl::InvalidArgumentError("a volume service needs a backend");
  }
  auto parts = std::make_unique<Parts>();
  flows::FlowContext& ctx = parts->ctx;
  ctx.keys = options.keys;
  ctx.store = options.store;
  ctx.mapped = options.mapped;
  ctx.rbd = options.rbd;
  ctx.rbd_native = options.rbd;
  ctx.attacher = options.attacher;
  ctx.host = options.host.empty() ? SystemHostName() : options.host;
  ctx.log = options.logger ? options.logger : DefaultLogger();
  return std::unique_ptr<VolumeService>(new VolumeService(std::move(parts)));
}

absl::StatusOr<VolumeRecord> VolumeService::CreateVolume(
    const CreateVolumeRequest& request) {
  if (!request.id.empty()) VOLCRYPT_RETURN_IF_ERROR(CheckVolumeId(request.id));
  return flows::CreateVolume(parts_->ctx, request);
}

absl::Status VolumeService::DeleteVolume(const std::string& id) {
  VOLCRYPT_RETURN_IF_ERROR(CheckVolumeId(id));
  return flows::DeleteVolume(parts_->ctx, id);
}

absl::StatusOr<VolumeRecord> VolumeService::ExtendVolume(const std::string& id,
                                                         uint64_t new_size) {
  VOLCRYPT_RETURN_IF_ERROR(CheckVolumeId(id));
  return flows::ExtendVolume(parts_->ctx, id, new_size);
}

absl::StatusOr<AttachPlan> VolumeService::PlanAttach(const std::string& id,
                                                     const AttachPlanOptions& options) {
  VOLCRYPT_RETURN_IF_ERROR(CheckVolumeId(id));
  return flows::PlanAttach(parts_->ctx, id, options);
}

absl::StatusOr<VolumeRecord> VolumeService::AttachVolume(
    const std::string& id, const AttachTarget& target, const AttachPlanOptions& options) {
  VOLCRYPT_RETURN_IF_ERROR(CheckVolumeId(id));
  return flows::AttachVolume(parts_->ctx, id, target, options);
}

absl::StatusOr<VolumeRecord> VolumeService::DetachVolume(const std::string& id) {
  VOLCRYPT_RETURN_IF_ERROR(CheckVolumeId(id));
  return flows::DetachVolume(parts_->ctx, id);
}

absl::StatusOr<SnapshotRecord> VolumeService::CreateSnapshot(
    const std::string& volume_id, const std::string& snapshot_id) {
  VOLCRYPT_RETURN_IF_ERROR(CheckVolumeId(volume_id));
  VOLCRYPT_RETURN_IF_ERROR(CheckId("snapshot id", snapshot_id));
  return flows::CreateSnapshot(parts_->ctx, volume_id, snapshot_id);
}

absl::Status VolumeService::DeleteSnapshot(const std::string& snapshot_id) {
  VOLCRYPT_RETURN_IF_ERROR(CheckId("snapshot id", snapshot_id));
  return flows::DeleteSnapshot(parts_->ctx, snapshot_id);
}

absl::StatusOr<VolumeRecord> VolumeService::CloneVolume(
    const std::string& snapshot_id, const std::string& new_volume_id,
    const VolumeLocation& location) {
  VOLCRYPT_RETURN_IF_ERROR(CheckId("snapshot id", snapshot_id));
  VOLCRYPT_RETURN_IF_ERROR(CheckVolumeId(new_volume_id));
  return flows::CloneVolume(parts_->ctx, snapshot_id, new_volume_id, location);
}

absl::StatusOr<VolumeRecord> VolumeService::ManageVolume(
    const ManageVolumeRequest& request) {
  if (!request.id.empty()) VOLCRYPT_RETURN_IF_ERROR(CheckVolumeId(request.id));
  return flows::ManageVolume(parts_->ctx, request);
}

absl::Status VolumeService::UnmanageVolume(const std::string& id) {
  VOLCRYPT_RETURN_IF_ERROR(CheckVolumeId(id));
  return flows::UnmanageVolume(parts_->ctx, id);
}

absl::StatusOr<VolumeRecord> VolumeService::RotateKey(const std::string& id,
                                                      int64_t key_created_before) {
  VOLCRYPT_RETURN_IF_ERROR(CheckVolumeId(id));
  return flows::RotateKey(parts_->ctx, id, key_created_before);
}

absl::StatusOr<int> VolumeService::VerifyVolumeKey(const std::string& id) {
  VOLCRYPT_RETURN_IF_ERROR(CheckVolumeId(id));
  const flows::FlowContext& ctx = parts_->ctx;
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord record, ctx.store->GetVolume(id));
  VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend * backend, ctx.BackendFor(record.location));
  VOLCRYPT_ASSIGN_OR_RETURN(SecretBytes passphrase, flows::PassphraseOf(ctx, record));
  VOLCRYPT_ASSIGN_OR_RETURN(luks::LuksHeaderImage header,
                            backend->ReadLuksHeader(record.location));
  // The header is input from outside: one that puts the payload where the
  // recorded volume cannot be (crafted, or not this record's) does not verify.
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeStat stat, backend->Stat(record.location));
  if (header.size() > stat.raw_bytes || stat.raw_bytes - header.size() < record.size_bytes) {
    return ErrnoError(absl::StatusCode::kFailedPrecondition, EBADMSG,
                      absl::StrCat("volume ", id, ": its header puts the payload at byte ",
                                   header.size(), " of ", stat.raw_bytes,
                                   ", leaving less than the recorded ", record.size_bytes,
                                   " bytes"));
  }
  absl::StatusOr<int> slot = luks::VerifyPassphrase(header.path(), passphrase);
  if (!slot.ok()) return flows::Annotate(slot.status(), "volume " + id);
  return slot;
}

absl::Status VolumeService::WritePassphrase(const std::string& id, int fd) {
  VOLCRYPT_RETURN_IF_ERROR(CheckVolumeId(id));
  const flows::FlowContext& ctx = parts_->ctx;
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord record, ctx.store->GetVolume(id));
  VOLCRYPT_ASSIGN_OR_RETURN(SecretBytes passphrase, flows::PassphraseOf(ctx, record));
  return WriteStream(fd, passphrase.data(), passphrase.size(), "passphrase of volume " + id);
}

absl::StatusOr<int> VolumeService::Reconcile(int64_t grace_seconds) {
  const flows::FlowContext& ctx = parts_->ctx;
  const int64_t cutoff = static_cast<int64_t>(std::time(nullptr)) - grace_seconds;
  VolumeFilter mine;
  mine.host = ctx.host;
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<VolumeRecord> records,
                            ctx.store->ListVolumes(mine));
  int acted = 0;
  absl::Status first_error;
  for (VolumeRecord& record : records) {
    const bool stale = record.updated_at <= cutoff;
    absl::Status s;
    if (record.status == VolumeStatus::kCreating && stale) {
      s = flows::UndoInterruptedCreate(ctx, record);
    } else if (record.status == VolumeStatus::kManaging && stale) {
      s = flows::UndoInterruptedManage(ctx, record);
    } else if (record.status == VolumeStatus::kDeleting) {
      s = flows::FinishDelete(ctx, record);
    } else if (record.status == VolumeStatus::kExtending && stale) {
      s = flows::FinishInterruptedExtend(ctx, record);
    } else if ((record.status == VolumeStatus::kAttaching && stale) ||
               record.status == VolumeStatus::kDetaching) {
      s = flows::ReconcileAttachment(ctx, record);
    } else if (record.status == VolumeStatus::kRekeying && stale) {
      s = flows::FinishRotation(ctx, record);
    } else if (record.status == VolumeStatus::kConverting) {
      absl::StatusOr<bool> did = flows::ReconcileOnlineConversion(ctx, record, cutoff);
      if (did.ok() && !*did) did = flows::ReconcileConversion(ctx, record, cutoff);
      if (did.ok() && !*did) continue;
      s = did.status();
    } else {
      continue;
    }
    ++acted;
    if (!s.ok() && first_error.ok()) first_error = s;
  }
  absl::StatusOr<int> snapshots = flows::ReconcileSnapshots(ctx, cutoff);  // 0 without rbd
  if (!snapshots.ok() && first_error.ok()) first_error = snapshots.status();
  acted += snapshots.value_or(0);
  absl::StatusOr<int> migrations = flows::ReconcileMigrations(ctx, cutoff);
  if (!migrations.ok() && first_error.ok()) first_error = migrations.status();
  acted += migrations.value_or(0);
  absl::StatusOr<int> in_libvirt = flows::ReconcileLibvirt(ctx);  // 0 without libvirt
  if (!in_libvirt.ok() && first_error.ok()) first_error = in_libvirt.status();
  acted += in_libvirt.value_or(0);
  if (!first_error.ok()) return first_error;
  return acted;
}

absl::StatusOr<MigrationPlan> VolumeService::PrepareMigration(
    const MigrationRequest& request) {
  return flows::PrepareMigration(parts_->ctx, request);
}

absl::Status VolumeService::FinishMigration(const MigrationRequest& request) {
  return flows::FinishMigration(parts_->ctx, request);
}

absl::Status VolumeService::AbortMigration(const MigrationRequest& request) {
  return flows::AbortMigration(parts_->ctx, request);
}

absl::StatusOr<VolumeRecord> VolumeService::ConvertVolume(
    const ConvertVolumeRequest& request) {
  VOLCRYPT_RETURN_IF_ERROR(CheckVolumeId(request.id));
  VOLCRYPT_ASSIGN_OR_RETURN(bool online, flows::IsOnlineConversion(parts_->ctx, request.id));
  if (online) return flows::ConvertVolumeOnline(parts_->ctx, request);
  return flows::ConvertVolume(parts_->ctx, request);
}

const std::string& VolumeService::host() const { return parts_->ctx.host; }

}  // namespace volcrypt
