#include "volcrypt/attacher.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "lib/attach/domain_disks.h"
#include "lib/util/status_macros.h"
#include "volcrypt/attach_xml.h"
#include "volcrypt/errors.h"
#include "volcrypt/key_manager.h"

namespace volcrypt {
namespace {

// libvirt prints every error to stderr unless told otherwise; volcrypt
// returns them instead.
void SilenceLibvirt() {
  static std::once_flag once;
  std::call_once(once, [] {
    virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
  });
}

absl::StatusCode CodeFor(int libvirt_code) {
  switch (libvirt_code) {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_SECRET:
      return absl::StatusCode::kNotFound;
    case VIR_ERR_OPERATION_INVALID:
      return absl::StatusCode::kFailedPrecondition;
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_RPC:
    case VIR_ERR_AGENT_UNRESPONSIVE:
      return absl::StatusCode::kUnavailable;
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_XML_DETAIL:
    case VIR_ERR_CONFIG_UNSUPPORTED:
    case VIR_ERR_INVALID_ARG:
      return absl::StatusCode::kInvalidArgument;
    case VIR_ERR_NO_SUPPORT:
      return absl::StatusCode::kUnimplemented;
    case VIR_ERR_OPERATION_DENIED:
    case VIR_ERR_AUTH_FAILED:
      return absl::StatusCode::kPermissionDenied;
    default:
      return absl::StatusCode::kInternal;
  }
}

// The status for libvirt's last error on this thread, while doing `what`.
absl::Status LibvirtError(const std::string& what) {
  virErrorPtr err = virGetLastError();
  if (err == nullptr) return absl::InternalError(what + ": libvirt failed");
  absl::Status s(CodeFor(err->code),
                 absl::StrCat(what, ": ", err->message ? err->message : "",
                              " (libvirt error ", err->code, ")"));
  virResetLastError();
  return s;
}

int LibvirtCode() {
  virErrorPtr err = virGetLastError();
  return err ? err->code : 0;
}

unsigned Flags(const AttachTarget& t) {
  unsigned flags = 0;
  if (t.live) flags |= VIR_DOMAIN_AFFECT_LIVE;
  if (t.config) flags |= VIR_DOMAIN_AFFECT_CONFIG;
  return flags;
}

struct DomainFree {
  void operator()(virDomain* d) const { virDomainFree(d); }
};
struct SecretFree {
  void operator()(virSecret* s) const { virSecretFree(s); }
};
using Domain = std::unique_ptr<virDomain, DomainFree>;
using Secret = std::unique_ptr<virSecret, SecretFree>;

std::string TakeString(char* s) {
  std::string out = s ? s : "";
  free(s);
  return out;
}

}  // namespace

class Attacher::Impl {
 public:
  explicit Impl(virConnectPtr conn) : conn_(conn) {}
  ~Impl() { virConnectClose(conn_); }

  absl::StatusOr<Domain> LookupDomain(const std::string& name) {
    virDomainPtr d = virDomainLookupByName(conn_, name.c_str());
    if (d == nullptr && LibvirtCode() == VIR_ERR_NO_DOMAIN &&
        ValidateKeyId(name).ok()) {  // a UUID: maybe the domain's
      virResetLastError();
      d = virDomainLookupByUUIDString(conn_, name.c_str());
    }
    if (d == nullptr) return LibvirtError("domain " + name);
    return Domain(d);
  }

  // The secret with `uuid`, or nullptr if none.
  absl::StatusOr<Secret> LookupSecret(const std::string& uuid) {
    virSecretPtr s = virSecretLookupByUUIDString(conn_, uuid.c_str());
    if (s == nullptr) {
      if (LibvirtCode() == VIR_ERR_NO_SECRET) {
        virResetLastError();
        return Secret();
      }
      return LibvirtError("secret " + uuid);
    }
    return Secret(s);
  }

  // True if secret `s` carries volcrypt's usage for `uuid`.
  absl::StatusOr<bool> IsOurs(virSecretPtr s, const std::string& uuid) {
    const std::string xml = TakeString(virSecretGetXMLDesc(s, 0));
    if (xml.empty()) return LibvirtError("secret " + uuid);
    return xml.find(">" + SecretUsageId(uuid) + "<") != std::string::npos;
  }

  absl::StatusOr<std::string> DomainXml(virDomainPtr dom, bool inactive) {
    std::string xml = TakeString(
        virDomainGetXMLDesc(dom, inactive ? VIR_DOMAIN_XML_INACTIVE : 0));
    if (xml.empty()) return LibvirtError("domain XML");
    return xml;
  }

  // Defines (or reuses) the secret and sets its value. Returns whether this
  // call defined it.
  absl::StatusOr<bool> PutSecret(const AttachPlan& plan) {
    const std::string& uuid = plan.secret_uuid;
    VOLCRYPT_ASSIGN_OR_RETURN(Secret secret, LookupSecret(uuid));
    bool defined = false;
    if (secret != nullptr) {
      VOLCRYPT_ASSIGN_OR_RETURN(bool ours, IsOurs(secret.get(), uuid));
      if (!ours) {
        return ErrnoError(absl::StatusCode::kFailedPrecondition, EEXIST,
                          absl::StrCat("libvirt secret ", uuid,
                                       " exists with a usage that is not "
                                       "volcrypt's; refusing to reuse it"));
      }
    } else {
      secret.reset(virSecretDefineXML(conn_, plan.secret_xml.c_str(), 0));
      if (secret == nullptr) return LibvirtError("define secret " + uuid);
      defined = true;
    }
    // Same UUID = same key: setting the value again is idempotent, and heals
    // a secret whose value was lost (an ephemeral one after a restart).
    if (virSecretSetValue(secret.get(), plan.passphrase.data(),
                          plan.passphrase.size(), 0) != 0) {
      absl::Status s = LibvirtError("set value of secret " + uuid);
      if (defined) virSecretUndefine(secret.get());
      return s;
    }
    return defined;
  }

  absl::Status Attach(const AttachPlan& plan, const AttachTarget& target) {
    if (!target.live && !target.config) {
      return absl::InvalidArgumentError("attach needs live, config or both");
    }
    VOLCRYPT_ASSIGN_OR_RETURN(Domain dom, LookupDomain(target.domain));
    VOLCRYPT_ASSIGN_OR_RETURN(bool defined, PutSecret(plan));
    if (virDomainAttachDeviceFlags(dom.get(), plan.disk_xml.c_str(), Flags(target)) == 0) {
      return absl::OkStatus();
    }
    absl::Status failed = LibvirtError(
        absl::StrCat("attach volume ", plan.volume_id, " to ", target.domain));
    if (defined) {
      VOLCRYPT_ASSIGN_OR_RETURN(Secret secret, LookupSecret(plan.secret_uuid));
      if (secret != nullptr) virSecretUndefine(secret.get());
    }
    return failed;
  }

  absl::Status Detach(const std::string& volume_id, const std::string& target_dev,
                      const AttachTarget& target) {
    VOLCRYPT_ASSIGN_OR_RETURN(Domain dom, LookupDomain(target.domain));
    const bool active = virDomainIsActive(dom.get()) == 1;
    if (target.live && active) {
      VOLCRYPT_RETURN_IF_ERROR(DetachFrom(dom.get(), volume_id, target_dev, false));
    }
    if (target.config && virDomainIsPersistent(dom.get()) == 1) {
      VOLCRYPT_RETURN_IF_ERROR(DetachFrom(dom.get(), volume_id, target_dev, true));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<bool> RemoveSecretIfUnused(const std::string& uuid) {
    VOLCRYPT_ASSIGN_OR_RETURN(Secret secret, LookupSecret(uuid));
    if (secret == nullptr) return false;
    VOLCRYPT_ASSIGN_OR_RETURN(bool ours, IsOurs(secret.get(), uuid));
    if (!ours) return false;
    VOLCRYPT_ASSIGN_OR_RETURN(bool used, AnyDomainUses(uuid));
    if (used) return false;
    if (virSecretUndefine(secret.get()) != 0) {
      if (LibvirtCode() == VIR_ERR_NO_SECRET) return false;
      return LibvirtError("undefine secret " + uuid);
    }
    return true;
  }

 private:
  // Detaches from the live domain or its config; waits (up to 10 s) for a
  // live removal to complete, since QEMU finishes it asynchronously.
  absl::Status DetachFrom(virDomainPtr dom, const std::string& volume_id,
                          const std::string& target_dev, bool config) {
    const std::string what = absl::StrCat("detach volume ", volume_id, " from ",
                                          virDomainGetName(dom),
                                          config ? " (config)" : " (live)");
    VOLCRYPT_ASSIGN_OR_RETURN(std::string xml, DomainXml(dom, config));
    VOLCRYPT_ASSIGN_OR_RETURN(absl::optional<DomainDisk> disk,
                              FindDiskByTarget(xml, target_dev));
    if (!disk) return absl::OkStatus();  // not attached: nothing to do
    if (disk->serial != volume_id) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, EBUSY,
                        absl::StrCat(what, ": ", target_dev, " holds another "
                                     "disk (serial '", disk->serial, "')"));
    }
    const unsigned flags = config ? VIR_DOMAIN_AFFECT_CONFIG : VIR_DOMAIN_AFFECT_LIVE;
    if (virDomainDetachDeviceFlags(dom, disk->xml.c_str(), flags) != 0) {
      return LibvirtError(what);
    }
    if (config) return absl::OkStatus();
    for (int i = 0; i < 100; ++i) {
      VOLCRYPT_ASSIGN_OR_RETURN(xml, DomainXml(dom, false));
      VOLCRYPT_ASSIGN_OR_RETURN(disk, FindDiskByTarget(xml, target_dev));
      if (!disk) return absl::OkStatus();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return ErrnoError(absl::StatusCode::kDeadlineExceeded, ETIMEDOUT,
                      what + ": the guest did not release the disk in 10 s");
  }

  absl::StatusOr<bool> AnyDomainUses(const std::string& uuid) {
    virDomainPtr* doms = nullptr;
    const int n = virConnectListAllDomains(conn_, &doms, 0);
    if (n < 0) return LibvirtError("list domains");
    std::vector<Domain> owned;
    for (int i = 0; i < n; ++i) owned.emplace_back(doms[i]);
    free(doms);
    for (const Domain& d : owned) {
      for (bool inactive : {false, true}) {
        if (inactive && virDomainIsPersistent(d.get()) != 1) continue;
        VOLCRYPT_ASSIGN_OR_RETURN(std::string xml, DomainXml(d.get(), inactive));
        VOLCRYPT_ASSIGN_OR_RETURN(bool uses, UsesSecret(xml, uuid));
        if (uses) return true;
      }
    }
    return false;
  }

  virConnectPtr conn_;
};

Attacher::Attacher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Attacher::~Attacher() = default;

absl::StatusOr<std::unique_ptr<Attacher>> Attacher::Connect(const std::string& uri) {
  SilenceLibvirt();
  virConnectPtr conn = virConnectOpen(uri.c_str());
  if (conn == nullptr) {
    absl::Status s = LibvirtError("connect to libvirt at " + uri);
    return absl::Status(absl::StatusCode::kUnavailable, s.message());
  }
  return std::unique_ptr<Attacher>(new Attacher(std::make_unique<Impl>(conn)));
}

absl::Status Attacher::Attach(const AttachPlan& plan, const AttachTarget& target) {
  return impl_->Attach(plan, target);
}
absl::Status Attacher::Detach(const std::string& volume_id,
                              const std::string& target_dev,
                              const AttachTarget& target) {
  return impl_->Detach(volume_id, target_dev, target);
}
absl::StatusOr<bool> Attacher::RemoveSecretIfUnused(const std::string& uuid) {
  return impl_->RemoveSecretIfUnused(uuid);
}

}  // namespace volcrypt
