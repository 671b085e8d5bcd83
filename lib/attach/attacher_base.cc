// The Attacher members that need no libvirt: built whether or not the
// libvirt implementation is (meson option libvirt), for embedders' own.
#include "lib/util/status_macros.h"
#include "volcrypt/attacher.h"

namespace volcrypt {

Attacher::~Attacher() = default;

absl::Status Attacher::Attach(const AttachPlan& plan, const AttachTarget& target) {
  VOLCRYPT_RETURN_IF_ERROR(DefineSecret(plan));
  absl::Status attached = AttachDisk(plan, target);
  if (!attached.ok()) (void)RemoveSecretIfUnused(plan.secret_uuid);
  return attached;
}

absl::StatusOr<bool> Attacher::SecretIsEphemeral(const std::string& uuid) {
  return absl::UnimplementedError("cannot tell whether secret " + uuid + " is ephemeral");
}

absl::StatusOr<absl::optional<LiveDiskState>> Attacher::InspectLiveDisk(
    const std::string&, const std::string&) {
  return absl::UnimplementedError("this attacher cannot inspect live disks");
}

absl::Status Attacher::StartBlockCopy(const std::string&, const std::string&,
                                      const std::string&, uint64_t) {
  return absl::UnimplementedError("this attacher cannot copy a disk live");
}

absl::Status Attacher::PivotBlockCopy(const std::string&, const std::string&) {
  return absl::UnimplementedError("this attacher cannot copy a disk live");
}

absl::Status Attacher::AbortBlockCopy(const std::string&, const std::string&) {
  return absl::UnimplementedError("this attacher cannot copy a disk live");
}

}  // namespace volcrypt
