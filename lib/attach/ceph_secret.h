// The libvirt secret of usage 'ceph' that rbd disks' <auth> names: defined
// and checked by volcrypt, so that an attach fails with a clear error before
// QEMU fails with "error connecting: Permission denied".
#ifndef VOLCRYPT_LIB_ATTACH_CEPH_SECRET_H_
#define VOLCRYPT_LIB_ATTACH_CEPH_SECRET_H_

#include <libvirt/libvirt.h>

#include <string>

#include "absl/status/statusor.h"
#include "volcrypt/secret_bytes.h"

namespace volcrypt {

// See Attacher::DefineCephSecret.
absl::StatusOr<std::string> DefineCephSecretOn(virConnectPtr conn, std::string uuid,
                                               const std::string& client_id,
                                               const SecretBytes& cephx_key);

// See Attacher::CheckCephSecret.
absl::Status CheckCephSecretOn(virConnectPtr conn, const std::string& uuid,
                               const SecretBytes* cephx_key);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_ATTACH_CEPH_SECRET_H_
