// File: volcrypt/rbd_backend.h
// -----------------------------------------------------------------------------
// RbdBackend keeps volumes as Ceph RBD images (librados/librbd C API), the
// distributed half of the mission: no host path, no dm-crypt. Encrypted
// volumes get the LUKS core's header written at offset 0 of the image:
//   - engine 'qemu': LUKS1, opened by QEMU's LUKS driver over rbd (cinder's
//     layout, without its multi-second qemu-img create + rbd import);
//   - engine 'librbd': LUKS1 or LUKS2, opened by librbd's native encryption
//     (rbd_encryption_load). FormatNative() is librbd's own format instead,
//     which cannot choose the KDF (seconds per create and per open).
// Both use the size rule: raw image size = payload offset + usable size.
//
//   RbdBackendOptions o;
//   o.ceph_conf = "/etc/ceph/ceph.conf";
//   absl::StatusOr<std::unique_ptr<RbdBackend>> rbd = RbdBackend::Connect(o);
//   (*rbd)->Create(VolumeLocation::Rbd("volumes", "volume-1"), raw_bytes);
//
// Errors name pool/image and keep librbd's errno: NotFound (pool or image),
// AlreadyExists, Unavailable (cluster unreachable within the timeout),
// FailedPrecondition (image in use, has snapshots, snapshot protected).
//
// Thread safety: an RbdBackend may be used from several threads at once.
#ifndef VOLCRYPT_RBD_BACKEND_H_
#define VOLCRYPT_RBD_BACKEND_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "volcrypt/block_backend.h"

namespace volcrypt {

class RawVolume;  // lib/copy/raw_volume.h

struct RbdBackendOptions {
  std::string ceph_conf;            // path of ceph.conf ("" = librados default)
  std::string client_id = "admin";  // cephx user, without "client."
  std::string keyring;              // "" = from ceph.conf
  // Bound on connecting and on every monitor and OSD operation, so an
  // unreachable cluster is an error, not a hang.
  int timeout_seconds = 10;
  // The libvirt secret (usage type 'ceph') holding this client's cephx key,
  // referenced by disk XML; "" for clusters without cephx.
  std::string libvirt_auth_secret_uuid;
};

class RbdBackend : public BlockBackend {
 public:
  // Connects to the cluster. Unavailable if it cannot be reached within
  // options.timeout_seconds; InvalidArgument for an unreadable ceph.conf.
  static absl::StatusOr<std::unique_ptr<RbdBackend>> Connect(
      const RbdBackendOptions& options);

  // Snapshots and clones (a clone keeps its parent's header, hence the same
  // key bytes; cinder gives it a new key id holding them).
  virtual absl::Status CreateSnapshot(const VolumeLocation& where,
                                      const std::string& snapshot) = 0;
  // Unprotects it first if needed. NotFound if absent; FailedPrecondition if
  // clones still depend on it.
  virtual absl::Status RemoveSnapshot(const VolumeLocation& where,
                                      const std::string& snapshot) = 0;
  // Whether the image holds `snapshot`. NotFound if the image is absent.
  // Reconcile asks it for snapshot records a kill may have left ahead of,
  // or behind, the image's snapshot.
  virtual absl::StatusOr<bool> SnapshotExists(const VolumeLocation& where,
                                              const std::string& snapshot) = 0;
  // Clones `parent`@`snapshot` (protecting the snapshot) into `child`.
  virtual absl::Status Clone(const VolumeLocation& parent,
                             const std::string& snapshot,
                             const VolumeLocation& child) = 0;

  // librbd's own LUKS format (rbd_encryption_format, librbd's KDF: ~4 s for
  // LUKS1, ~10 s and ~0.6 GiB for LUKS2 here). The image must be blank.
  virtual absl::Status FormatNative(const VolumeLocation& where,
                                    LuksFormat format, int key_bits,
                                    const SecretBytes& passphrase) = 0;

  // Loads the image's encryption with librbd (rbd_encryption_load) and
  // returns the payload size librbd then exposes. PermissionDenied (EPERM)
  // for a wrong passphrase.
  virtual absl::StatusOr<uint64_t> VerifyNative(
      const VolumeLocation& where, LuksFormat format,
      const SecretBytes& passphrase) = 0;

  // Raw access to the image's bytes (header and payload) for the payload
  // copier of a conversion (lib/copy). Unimplemented by default.
  virtual absl::StatusOr<std::unique_ptr<RawVolume>> OpenRaw(
      const VolumeLocation& where, bool writable);
};

// The cephx key of client `options.client_id`, decoded from its base64 text:
// the bytes a libvirt secret of usage 'ceph' holds, so that rbd disks'
// <auth> can name it (Attacher::DefineCephSecret). Read from
// options.keyring, else from the first keyring that options.ceph_conf names
// which exists. NotFound if no keyring exists or it has no key for the
// client; InvalidArgument for a key that is not base64.
absl::StatusOr<SecretBytes> ReadCephxKey(const RbdBackendOptions& options);

}  // namespace volcrypt

#endif  // VOLCRYPT_RBD_BACKEND_H_
