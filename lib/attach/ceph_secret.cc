#include "lib/attach/ceph_secret.h"

#include <openssl/crypto.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "lib/attach/libvirt_call.h"
#include "lib/util/status_macros.h"
#include "volcrypt/attach_xml.h"
#include "volcrypt/errors.h"
#include "volcrypt/key_manager.h"

namespace volcrypt {
namespace {

// A secret found by `lookup` (nullptr if libvirt has none).
template <typename Lookup>
absl::StatusOr<Secret> Find(Lookup lookup, const std::string& what) {
  virSecretPtr s = lookup();
  if (s != nullptr) return Secret(s);
  if (LibvirtCode() != VIR_ERR_NO_SECRET) return LibvirtError(what);
  virResetLastError();
  return Secret();
}

absl::StatusOr<std::string> UuidOf(virSecretPtr s) {
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virSecretGetUUIDString(s, uuid) != 0) return LibvirtError("secret UUID");
  return std::string(uuid);
}

absl::Status NotCeph(const std::string& uuid) {
  return ErrnoError(absl::StatusCode::kFailedPrecondition, EEXIST,
                    absl::StrCat("libvirt secret ", uuid,
                                 " exists for another use than ceph; refusing it"));
}

}  // namespace

absl::StatusOr<std::string> DefineCephSecretOn(virConnectPtr conn, std::string uuid,
                                               const std::string& client_id,
                                               const SecretBytes& cephx_key) {
  if (cephx_key.empty()) return absl::InvalidArgumentError("the cephx key is empty");
  const std::string usage = CephSecretUsageName(client_id);
  VOLCRYPT_ASSIGN_OR_RETURN(
      Secret named, Find([&] { return virSecretLookupByUsage(
                                   conn, VIR_SECRET_USAGE_TYPE_CEPH, usage.c_str()); },
                         "ceph secret " + usage));
  if (named != nullptr) {
    VOLCRYPT_ASSIGN_OR_RETURN(std::string named_uuid, UuidOf(named.get()));
    if (uuid.empty()) uuid = named_uuid;
    // libvirt allows one secret per usage name.
    if (named_uuid != uuid) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, EEXIST,
                        absl::StrCat("libvirt secret ", named_uuid, " already holds the "
                                     "cephx key of client.", client_id,
                                     "; use that UUID or give none"));
    }
  }
  if (uuid.empty()) {
    VOLCRYPT_ASSIGN_OR_RETURN(uuid, NewUuid());
  }
  VOLCRYPT_ASSIGN_OR_RETURN(
      Secret secret,
      Find([&] { return virSecretLookupByUUIDString(conn, uuid.c_str()); }, "secret " + uuid));
  bool defined = false;
  if (secret != nullptr) {
    if (virSecretGetUsageType(secret.get()) != VIR_SECRET_USAGE_TYPE_CEPH) return NotCeph(uuid);
  } else {
    VOLCRYPT_ASSIGN_OR_RETURN(std::string xml, BuildCephSecretXml(uuid, client_id));
    secret.reset(virSecretDefineXML(conn, xml.c_str(), 0));
    if (secret == nullptr) return LibvirtError("define ceph secret " + uuid);
    defined = true;
  }
  if (virSecretSetValue(secret.get(), cephx_key.data(), cephx_key.size(), 0) != 0) {
    absl::Status s = LibvirtError("set value of ceph secret " + uuid);
    if (defined) virSecretUndefine(secret.get());
    return s;
  }
  return uuid;
}

absl::Status CheckCephSecretOn(virConnectPtr conn, const std::string& uuid,
                               const SecretBytes* cephx_key) {
  VOLCRYPT_RETURN_IF_ERROR(ValidateKeyId(uuid));
  VOLCRYPT_ASSIGN_OR_RETURN(
      Secret secret,
      Find([&] { return virSecretLookupByUUIDString(conn, uuid.c_str()); }, "secret " + uuid));
  if (secret == nullptr) {
    return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                      absl::StrCat("libvirt has no ceph secret ", uuid, " for rbd disks' "
                                   "<auth>; define it with `volcrypt ceph-secret define`"));
  }
  if (virSecretGetUsageType(secret.get()) != VIR_SECRET_USAGE_TYPE_CEPH) return NotCeph(uuid);
  size_t size = 0;
  unsigned char* value = virSecretGetValue(secret.get(), &size, 0);
  if (value == nullptr) {
    // libvirt never hands out a private secret's value: nothing to compare.
    if (LibvirtCode() == VIR_ERR_INVALID_SECRET) {
      virResetLastError();
      return absl::OkStatus();
    }
    if (LibvirtCode() == VIR_ERR_NO_SECRET) {
      virResetLastError();
      return ErrnoError(absl::StatusCode::kFailedPrecondition, ENOKEY,
                        absl::StrCat("libvirt ceph secret ", uuid, " has no value; set it "
                                     "with `volcrypt ceph-secret define --uuid ", uuid, "`"));
    }
    return LibvirtError("value of ceph secret " + uuid);
  }
  SecretBytes held = SecretBytes::CopyOf(value, size);
  OPENSSL_cleanse(value, size);
  free(value);
  if (cephx_key != nullptr && !held.Equals(*cephx_key)) {
    return ErrnoError(absl::StatusCode::kFailedPrecondition, EKEYREJECTED,
                      absl::StrCat("libvirt ceph secret ", uuid, " holds another key than "
                                   "the keyring's; set it with `volcrypt ceph-secret define "
                                   "--uuid ", uuid, "`"));
  }
  return absl::OkStatus();
}

}  // namespace volcrypt
