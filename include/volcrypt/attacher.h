// File: volcrypt/attacher.h
// -----------------------------------------------------------------------------
// Attacher talks to libvirt: it puts a volume's passphrase into a libvirt
// secret (the key container; UUID = the key id, value set with
// virSecretSetValue, never in XML) and attaches or detaches the encrypted
// disk, live and/or in the persistent config, so that QEMU decrypts.
// VolumeService::AttachVolume / DetachVolume order these steps and record
// them; use those, not this, unless you keep your own records.
//
//   absl::StatusOr<std::unique_ptr<Attacher>> libvirt =
//       Attacher::Connect("qemu:///system");
//   AttachTarget where;  where.domain = "instance-0001";
//   absl::Status s = (*libvirt)->Attach(plan, where);
//
// Errors carry libvirt's own message: NotFound (no such domain or secret),
// Unavailable (libvirtd unreachable), FailedPrecondition (a conflicting
// secret, a disk already on that target), Internal (QEMU refused, e.g.
// "Invalid password, cannot unlock any keyslot").
//
// Thread safety: an Attacher may be used from several threads at once.
#ifndef VOLCRYPT_ATTACHER_H_
#define VOLCRYPT_ATTACHER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "volcrypt/export.h"
#include "volcrypt/attach_xml.h"

namespace volcrypt {

// Where and how a disk is (de)attached: the running domain (live), its
// persistent config (config), or both.
struct AttachTarget {
  std::string domain;  // name or UUID
  bool live = true;
  bool config = false;
};

class VOLCRYPT_EXPORT Attacher {
 public:
  // Opens a libvirt connection. Unavailable if libvirtd cannot be reached.
  static absl::StatusOr<std::unique_ptr<Attacher>> Connect(
      const std::string& uri);

  Attacher(const Attacher&) = delete;
  Attacher& operator=(const Attacher&) = delete;
  ~Attacher();

  // Defines the secret of `plan` (or reuses one with the same UUID and
  // volcrypt's usage; a secret with that UUID and another usage is
  // FailedPrecondition), sets its value, and attaches `plan.disk_xml`.
  // On failure, removes the disk if it was added and the secret if this call
  // defined it, and returns libvirt's error.
  absl::Status Attach(const AttachPlan& plan, const AttachTarget& target);

  // Detaches the disk on `target_dev` of `target.domain` whose serial is
  // `volume_id`. A disk that is not attached is not an error; a disk on that
  // target with another serial is FailedPrecondition (never detached).
  absl::Status Detach(const std::string& volume_id,
                      const std::string& target_dev,
                      const AttachTarget& target);

  // Undefines secret `uuid` if it is volcrypt's and no domain (running or
  // defined) references it. A missing secret is not an error. Returns
  // whether it was removed.
  absl::StatusOr<bool> RemoveSecretIfUnused(const std::string& uuid);

 private:
  class Impl;
  explicit Attacher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace volcrypt

#endif  // VOLCRYPT_ATTACHER_H_
