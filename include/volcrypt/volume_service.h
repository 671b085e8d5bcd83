// File: volcrypt/volume_service.h
// -----------------------------------------------------------------------------
// The orchestration layer: create, delete, extend, plan an attach. It owns the
// order of the steps and the rollback of each (docs/flows.md), over a
// KeyManager, a VolumeStore and the BlockBackends. The CLI and the C ABI are
// thin layers over it.
//
//   VolumeServiceOptions o;
//   o.keys = keys.get(); o.store = store.get(); o.mapped = mapped.get();
//   auto service = VolumeService::Create(o);
//   CreateVolumeRequest req;
//   req.location = VolumeLocation::Path("/var/lib/vols/v1");
//   req.size_bytes = 1 << 30;
//   absl::StatusOr<VolumeRecord> v = (*service)->CreateVolume(req);
//   absl::StatusOr<AttachPlan> plan = (*service)->PlanAttach(v->id, {});
//
// Ids (volume and snapshot ids) are checked once, where they enter: 1 to 128
// letters, digits, '-', '_' or '.'; anything else is InvalidArgument.
//
// What a failure leaves behind (each is tested):
//   CreateVolume  nothing: the backing volume, the key and the record are
//                 removed in reverse order. A crash leaves a record in
//                 'creating' that Reconcile() undoes (finding the key by its
//                 name, "volcrypt-volume-<id>", if its id was not recorded).
//   DeleteVolume  a record in 'deleting'; rerunning DeleteVolume (or
//                 Reconcile) finishes the job. The key is deleted only after
//                 the backing volume, and only when no other record uses it.
//   ExtendVolume  the volume at its old or its new size, status restored; a
//                 crash leaves 'extending', which Reconcile() finishes at
//                 the size the guest sees.
//   PlanAttach    nothing changes, except that a mapped volume recorded as
//                 encrypted but still without a header is formatted (once).
//   AttachVolume  nothing: the disk, then a secret this call defined, are
//                 removed; a crash leaves 'attaching' for Reconcile to undo.
//   DetachVolume  'detaching'; a rerun (or Reconcile) finishes it.
//   CreateSnapshot / DeleteSnapshot  a crash between the record and the
//                 image's snapshot leaves a record without one, which
//                 Reconcile() removes once it is older than the grace.
//
// Verify before destroying: every step that removes or wipes a backing
// volume (delete, a create's undo, Reconcile) first checks that the location
// still holds what the record made (the LUKS header UUID recorded at create,
// VolumeRecord::location_proof, or for older records a header its key
// opens). When it does not, the location is left alone, the record is
// finished, and a warning says so. A location that any record names is
// refused to a new volume (AlreadyExists) until that record is gone.
//
// Thread safety: safe to call from several threads; operations on one volume
// are serialised by the store's status compare-and-set.
#ifndef VOLCRYPT_VOLUME_SERVICE_H_
#define VOLCRYPT_VOLUME_SERVICE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "volcrypt/attach_xml.h"
#include "volcrypt/block_backend.h"
#include "volcrypt/encryption_spec.h"
#include "volcrypt/key_manager.h"
#include "volcrypt/logger.h"
#include "volcrypt/secret_bytes.h"
#include "volcrypt/volume_store.h"

namespace volcrypt {

class Attacher;
class RbdBackend;
struct AttachTarget;
struct MigrationPlan;     // volcrypt/migration.h
struct MigrationRequest;  // volcrypt/migration.h

struct VolumeServiceOptions {
  KeyManager* keys = nullptr;      // required; not owned
  VolumeStore* store = nullptr;    // required; not owned
  BlockBackend* mapped = nullptr;  // for kMapped volumes; not owned
  RbdBackend* rbd = nullptr;       // for kRbd volumes; not owned
  Attacher* attacher = nullptr;    // libvirt, for Attach/DetachVolume; not owned
  std::string host;                // this host; empty: the system host name
  Logger* logger = nullptr;        // nullptr: DefaultLogger()
};

struct CreateVolumeRequest {
  std::string id;  // empty: a new UUID
  VolumeLocation location;
  uint64_t size_bytes = 0;  // usable bytes, what the guest sees
  EncryptionSpec encryption;
  // Mapped volumes only: create the volume plain and LUKS-format it at its
  // first attach, as cinder does for iSCSI/FC/LVM.
  bool defer_format = false;
  // RBD volumes with the librbd engine only: let librbd write the header
  // (rbd_encryption_format, librbd's slow KDF) instead of the LUKS core.
  bool native_rbd_format = false;
  std::string user_id;
  std::string project_id;
};

// How ManageVolume opens a volume volcrypt did not create.
enum class ManagedKeyKind {
  kKeyId,       // a key already in the key manager (a Barbican secret cinder
                // made, the fixed key's all-zeros id); its hex opens a keyslot
  kKeyBytes,    // raw key bytes; stored as a new key, its hex opens a keyslot
  kPassphrase,  // a passphrase a person chose; stored as-is, never hexed
                // (KeyFormat::kPassphrase)
  kNone,        // a plain volume (--unencrypted): recorded, never attached
                // with encryption; refused if the volume holds LUKS
};

struct ManageVolumeRequest {
  std::string id;  // empty: a new UUID
  VolumeLocation location;
  // Who will decrypt at attach; LUKS2 needs kLibrbd (rbd volumes only).
  EncryptionEngine engine = EncryptionEngine::kQemu;
  ManagedKeyKind key_kind = ManagedKeyKind::kKeyId;
  std::string key_id;  // kKeyId
  SecretBytes secret;  // kKeyBytes: the key; kPassphrase: the passphrase
  // 0: what the volume offers (raw size less the header's real payload
  // offset); otherwise it must equal that.
  uint64_t size_bytes = 0;
  std::string user_id;
  std::string project_id;
};

// What ConvertVolume makes of a volume (lib/volumes/conversion.h).
enum class ConversionKind {
  kEncrypt,    // a plain volume becomes encrypted ('volume encrypt')
  kReencrypt,  // an encrypted volume gets a new volume key, and perhaps
               // another format or engine ('volume reencrypt')
};

struct ConvertVolumeRequest {
  std::string id;
  ConversionKind kind = ConversionKind::kReencrypt;
  // The destination: must not exist and no record may name it.
  VolumeLocation target;
  // The destination's encryption (format, cipher aes-xts-plain64, key
  // strength, sector size, engine); its payload is the volume's size.
  EncryptionSpec encryption;
  // Keep the old location (and its key) after the swap instead of deleting
  // them: a complete plaintext or old-key copy until someone wipes it.
  bool keep_source = false;
  // Called from the converting thread: payload bytes dealt with, and the
  // total (the volume's size).
  std::function<void(uint64_t done, uint64_t total)> progress;
  // At most this many bytes per second (0: unlimited): the offline copy
  // paces its writes; an online one passes it to libvirt's block copy.
  uint64_t bandwidth = 0;
};

struct AttachPlanOptions {
  std::string target_dev = "sdb";
  std::string target_bus = "scsi";
  bool ephemeral_secret = false;
};

class VolumeService {
 public:
  // InvalidArgument if a required option is missing.
  static absl::StatusOr<std::unique_ptr<VolumeService>> Create(
      const VolumeServiceOptions& options);

  VolumeService(const VolumeService&) = delete;
  VolumeService& operator=(const VolumeService&) = delete;
  ~VolumeService();

  // Creates an encrypted volume: validate, record 'creating', create the key
  // (named after the volume), record its id, create the backing volume and
  // write the LUKS header, mark 'available'. Bad input creates nothing:
  // InvalidArgument, AlreadyExists (id or location taken), OutOfRange (size).
  absl::StatusOr<VolumeRecord> CreateVolume(const CreateVolumeRequest& request);

  // Deletes volume `id`: mark 'deleting' (FailedPrecondition if attached or
  // if snapshots depend on it), delete the backing volume (already gone is
  // fine), delete its key unless another record uses it or it is shared (not
  // found is fine), remove the record. NotFound if there is no such volume.
  absl::Status DeleteVolume(const std::string& id);

  // Grows volume `id` so the guest sees exactly `new_size_bytes`.
  // OutOfRange for a shrink; FailedPrecondition unless 'available'.
  absl::StatusOr<VolumeRecord> ExtendVolume(const std::string& id,
                                            uint64_t new_size_bytes);

  // Builds the attach plan of volume `id` (see AttachPlan, attach_xml.h) for
  // callers that attach through their own libvirt code. A mapped volume
  // recorded as encrypted but still blank (CreateVolumeRequest::defer_format)
  // is LUKS-formatted now, once (AttachPlan::formatted_now); a volume holding
  // LUKS or any other signature is never formatted. FailedPrecondition unless
  // the volume is 'available' or 'in-use'; InvalidArgument for an engine
  // that cannot open it.
  absl::StatusOr<AttachPlan> PlanAttach(const std::string& id,
                                        const AttachPlanOptions& options);

  // Attaches volume `id` to `target` through libvirt: refuse impossible
  // combinations first (LUKS2 with QEMU's engine; a live hot-plug with the
  // librbd engine where Attacher::ProbeEngines says libvirt cannot, as 9.0),
  // mark 'attaching' and record the attachment, build the plan (formatting a
  // blank mapped volume at first use), define the secret and set its value,
  // attach the disk, mark 'in-use'.
  // On failure everything this call added is removed and the volume is
  // 'available' again. FailedPrecondition unless 'available' (encrypted
  // volumes are never multi-attached) or without an attacher.
  absl::StatusOr<VolumeRecord> AttachVolume(const std::string& id,
                                            const AttachTarget& target,
                                            const AttachPlanOptions& options);

  // Detaches volume `id` from where it is recorded as attached: mark
  // 'detaching', remove the disk (already gone is fine), undefine the secret
  // unless another disk still uses it, drop the attachment, mark
  // 'available'. A rerun finishes an interrupted detach.
  absl::StatusOr<VolumeRecord> DetachVolume(const std::string& id);

  // Snapshots an RBD volume: an RBD snapshot "snapshot-<snapshot_id>" and a
  // snapshot record sharing the volume's key id (as in cinder). Unimplemented
  // for mapped volumes.
  absl::StatusOr<SnapshotRecord> CreateSnapshot(const std::string& volume_id,
                                                const std::string& snapshot_id);
  // Removes the RBD snapshot, then the record. FailedPrecondition while
  // clones depend on it.
  absl::Status DeleteSnapshot(const std::string& snapshot_id);

  // Clones snapshot `snapshot_id` into a new volume at `location` whose key
  // is a NEW key id holding the SAME bytes (cinder's store(get(id))), so the
  // clone's inherited header opens with its own recorded key. Same rollback
  // and reconcile as CreateVolume.
  absl::StatusOr<VolumeRecord> CloneVolume(const std::string& snapshot_id,
                                           const std::string& new_volume_id,
                                           const VolumeLocation& location);

  // Gives volume `id` a new key without copying its data: a new key in the
  // key manager, a keyslot for its passphrase (machine-key KDF), the new key
  // id recorded, every keyslot the old passphrase opens removed, the old key
  // deleted unless a snapshot or backup still names it (docs/flows.md, "Key
  // rotation"). Works on 'available' and attached ('in-use') volumes; for an
  // attached one the libvirt secret gets the new passphrase before the old
  // keyslot goes. Only while the key was made before `key_created_before`
  // (Unix seconds): else FailedPrecondition with errno EALREADY. A failure
  // undoes or finishes by what the header opens with; a kill leaves
  // 'rekeying' for Reconcile. FailedPrecondition (EBUSY) in another status.
  absl::StatusOr<VolumeRecord> RotateKey(const std::string& id,
                                         int64_t key_created_before = INT64_MAX);

  // Returns the keyslot that the volume's key unlocks: proof that the record,
  // the key manager and the header agree.
  absl::StatusOr<int> VerifyVolumeKey(const std::string& id);

  // Writes the LUKS passphrase of volume `id` (the hex of its key) to `fd`,
  // for piping into cryptsetup or qemu-img; the caller chooses a pipe or a
  // file, never a terminal. Nothing else is written; a short or failed
  // write is DataLoss (or the errno's status).
  absl::Status WritePassphrase(const std::string& id, int fd);

  // Takes over a volume that exists at request.location (a cinder, ceph-csi,
  // CloudStack or cryptsetup volume) without writing to it: reads its
  // header through the backend, proves the key opens a keyslot, derives the
  // usable size from the header's real payload offset, and records it with
  // the header's UUID as its location proof. Nothing is recorded or stored
  // when it fails: InvalidArgument (bad id, truncated or malformed header,
  // a header UUID that is not a UUID, a size that does not match, a cipher
  // or engine that cannot attach it, such as LUKS2 with the qemu engine),
  // AlreadyExists (id taken, location recorded for another volume, or a
  // key already named for the id), NotFound (nothing at the location, no
  // such key), PermissionDenied (the key opens no keyslot),
  // FailedPrecondition (no LUKS header, or LUKS with kNone).
  // A kKeyId or kNone volume is recorded in one step. A kKeyBytes or
  // kPassphrase one is recorded 'managing', its key stored (named
  // KeyNameForVolume(id)) and recorded, then 'available'; a failure removes
  // the key and the record, and a crash leaves 'managing', which Reconcile
  // undoes the same way. Neither ever touches the volume.
  // A managed volume is then like any other: DeleteVolume removes its
  // backing volume (after checking the header UUID) and its key, as
  // cinder's delete does; UnmanageVolume leaves both.
  absl::StatusOr<VolumeRecord> ManageVolume(const ManageVolumeRequest& request);

  // Forgets volume `id`: removes its record and nothing else (the backing
  // volume and the key stay). FailedPrecondition unless 'available' (never
  // while attached, by the record or by libvirt) or while snapshots depend
  // on it; NotFound if there is no such volume.
  absl::Status UnmanageVolume(const std::string& id);

  // Copies volume `id` to request.target under a new volume key (and
  // header), verifies the copy, then swaps the record to it in one store
  // transaction, and deletes the old location (unless keep_source) and the
  // old key (unless another record uses it). The steps and what a kill at
  // each leaves: lib/volumes/conversion.h. A rerun on a volume whose
  // conversion's owner is gone continues from the journal. Errors:
  // FailedPrecondition (EBUSY: not 'available', or a conversion owned by a
  // live process; EEXIST: the source holds something the record does not
  // say; ENOTEMPTY: snapshots depend on it), AlreadyExists (target exists
  // or is recorded), InvalidArgument
  // (kind does not match the volume, bad spec, sizes that cannot match),
  // Unimplemented (a cipher other than aes-xts), PermissionDenied (the
  // recorded key does not open the source).
  absl::StatusOr<VolumeRecord> ConvertVolume(const ConvertVolumeRequest& request);

  // Finishes or undoes what a crash left: records in 'creating' or
  // 'attaching' whose last update is older than `grace_seconds` are undone;
  // records in 'extending' that old are finished at the size the guest sees;
  // records in 'deleting' or 'detaching' are finished (attachments need an
  // attacher); records in 'managing' that old lose the key the manage
  // stored and the record, never the volume; records in 'rekeying' that old
  // are finished or undone by what their header opens with; records in
  // 'converting' whose conversion was not journaled for `grace_seconds` and
  // whose owner is gone go back to the old volume before the swap and are
  // finished on the new one after it; snapshot records
  // older than `grace_seconds` whose image has no such snapshot are removed;
  // volumes 'migrating' that old (on any host) become this host's if its
  // libvirt has their domain, else lose this host's secret.
  // Returns how many records it acted on.
  absl::StatusOr<int> Reconcile(int64_t grace_seconds);

  // Live migration of the domain `request.domain` (volcrypt/migration.h
  // has the steps and what a kill leaves): Prepare defines each of its
  // volumes' secrets on the destination, read with this service's key
  // manager, and records the volumes 'migrating'; Finish, once libvirt moved
  // the domain, moves the records to the destination host and removes the
  // source's secrets; Abort, when it did not, removes what Prepare put on
  // the destination and records the volumes 'in-use' here again.
  // FailedPrecondition when the records and libvirt's domain XML disagree,
  // or (EOPNOTSUPP) for a block device, which may differ per host.
  absl::StatusOr<MigrationPlan> PrepareMigration(const MigrationRequest& request);
  absl::Status FinishMigration(const MigrationRequest& request);
  absl::Status AbortMigration(const MigrationRequest& request);

  const std::string& host() const;

 private:
  struct Parts;
  explicit VolumeService(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

// The name volcrypt gives the key of volume `volume_id`.
std::string KeyNameForVolume(const std::string& volume_id);

}  // namespace volcrypt

#endif  // VOLCRYPT_VOLUME_SERVICE_H_
