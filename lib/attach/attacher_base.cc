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

}  // namespace volcrypt
