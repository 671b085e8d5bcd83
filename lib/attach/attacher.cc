#include "volcrypt/attacher.h"

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "lib/attach/ceph_secret.h"
#include "lib/attach/domain_disks.h"
#include "lib/attach/libvirt_call.h"
#include "lib/attach/libvirt_block_copy.h"
#include "lib/util/status_macros.h"
#include "volcrypt/attach_xml.h"
#include "volcrypt/errors.h"
#include "volcrypt/key_manager.h"

namespace volcrypt {
namespace {

unsigned Flags(const AttachTarget& t) {
  unsigned flags = 0;
  if (t.live) flags |= VIR_DOMAIN_AFFECT_LIVE;
  if (t.config) flags |= VIR_DOMAIN_AFFECT_CONFIG;
  return flags;
}

// The libvirt implementation. A virConnect is thread-safe, and this class
// keeps no other state, so it is too.
class LibvirtAttacher : public Attacher {
 public:
  explicit LibvirtAttacher(virConnectPtr conn) : conn_(conn) {}
  ~LibvirtAttacher() override { virConnectClose(conn_); }

  EngineCapabilities ProbeEngines() override {
    unsigned long version = 0;  // NOLINT(runtime/int): libvirt's type
    if (virConnectGetLibVersion(conn_, &version) != 0) return EngineCapabilities{};
    return CapabilitiesOfLibvirt(version);
  }

  absl::Status DefineSecret(const AttachPlan& plan) override {
    const std::string& uuid = plan.secret_uuid;
    const std::string usage = SecretUsageId(plan.volume_id);
    VOLCRYPT_ASSIGN_OR_RETURN(Secret secret, LookupSecret(uuid));
    bool defined = false;
    if (secret != nullptr) {
      VOLCRYPT_ASSIGN_OR_RETURN(std::string has, UsageOf(secret.get(), uuid));
      if (has != usage) {
        return ErrnoError(absl::StatusCode::kFailedPrecondition, EEXIST,
                          absl::StrCat("libvirt secret ", uuid, " exists for another "
                                       "use; refusing to reuse it"));
      }
    } else {
      VOLCRYPT_RETURN_IF_ERROR(RemoveStaleSecret(usage));
      secret.reset(virSecretDefineXML(conn_, plan.secret_xml.c_str(), 0));
      if (secret == nullptr) return LibvirtError("define secret " + uuid);
      defined = true;
    }
    // Setting the value again is idempotent, and heals a secret whose value
    // was lost (an ephemeral one after a restart).
    if (virSecretSetValue(secret.get(), plan.passphrase.data(),
                          plan.passphrase.size(), 0) != 0) {
      absl::Status s = LibvirtError("set value of secret " + uuid);
      if (defined) virSecretUndefine(secret.get());
      return s;
    }
    return absl::OkStatus();
  }

  absl::Status SetSecretValue(const std::string& uuid, const std::string& volume_id,
                              const SecretBytes& passphrase) override {
    VOLCRYPT_ASSIGN_OR_RETURN(Secret secret, LookupSecret(uuid));
    if (secret == nullptr) {
      return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                        absl::StrCat("libvirt secret ", uuid, " not found"));
    }
    VOLCRYPT_ASSIGN_OR_RETURN(std::string has, UsageOf(secret.get(), uuid));
    // A live conversion's secret (ConversionSecretUsageId) is the volume's too.
    if (!IsSecretUsageOf(has, volume_id)) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, EEXIST,
                        absl::StrCat("libvirt secret ", uuid, " is not volume ",
                                     volume_id, "'s; refusing to change it"));
    }
    if (virSecretSetValue(secret.get(), passphrase.data(), passphrase.size(), 0) != 0) {
      return LibvirtError("set value of secret " + uuid);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> DefineCephSecret(const std::string& uuid,
                                               const std::string& client_id,
                                               const SecretBytes& cephx_key) override {
    return DefineCephSecretOn(conn_, uuid, client_id, cephx_key);
  }

  absl::Status CheckCephSecret(const std::string& uuid, const SecretBytes* cephx_key) override {
    return CheckCephSecretOn(conn_, uuid, cephx_key);
  }

  absl::Status AttachDisk(const AttachPlan& plan, const AttachTarget& target) override {
    if (!target.live && !target.config) {
      return absl::InvalidArgumentError("attach needs live, config or both");
    }
    VOLCRYPT_ASSIGN_OR_RETURN(Domain dom, LookupDomain(target.domain));
    if (virDomainAttachDeviceFlags(dom.get(), plan.disk_xml.c_str(), Flags(target)) != 0) {
      return LibvirtError(
          absl::StrCat("attach volume ", plan.volume_id, " to ", target.domain));
    }
    return absl::OkStatus();
  }

  absl::Status DetachDisk(const std::string& volume_id, const std::string& target_dev,
                          const std::string& domain) override {
    VOLCRYPT_ASSIGN_OR_RETURN(Domain dom, LookupDomain(domain));
    // libvirt's state, not the mode the disk was attached in: a domain
    // started after a config-only attach holds the disk live too.
    const int active = virDomainIsActive(dom.get());
    if (active < 0) return LibvirtError("domain " + domain);
    if (active == 1) {
      VOLCRYPT_RETURN_IF_ERROR(DetachFrom(dom.get(), volume_id, target_dev, false));
    }
    const int persistent = virDomainIsPersistent(dom.get());
    if (persistent < 0) return LibvirtError("domain " + domain);
    if (persistent == 1) {
      VOLCRYPT_RETURN_IF_ERROR(DetachFrom(dom.get(), volume_id, target_dev, true));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<bool> RemoveSecretIfUnused(const std::string& uuid) override {
    VOLCRYPT_ASSIGN_OR_RETURN(Secret secret, LookupSecret(uuid));
    if (secret == nullptr) return false;
    VOLCRYPT_ASSIGN_OR_RETURN(std::string usage, UsageOf(secret.get(), uuid));
    if (!IsVolcryptUsage(usage)) return false;
    VOLCRYPT_ASSIGN_OR_RETURN(bool used, AnyDomainUses(uuid));
    if (used) return false;
    if (virSecretUndefine(secret.get()) != 0) {
      if (LibvirtCode() == VIR_ERR_NO_SECRET) return false;
      return LibvirtError("undefine secret " + uuid);
    }
    return true;
  }

  absl::StatusOr<bool> SecretIsEphemeral(const std::string& uuid) override {
    VOLCRYPT_ASSIGN_OR_RETURN(Secret secret, LookupSecret(uuid));
    if (secret == nullptr) {
      return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                        absl::StrCat("libvirt secret ", uuid, " not found"));
    }
    char* raw = virSecretGetXMLDesc(secret.get(), 0);
    if (raw == nullptr) return LibvirtError("read secret " + uuid);
    // libvirt writes the attribute as ephemeral='yes' (or "yes").
    const std::string xml = TakeString(raw);
    return xml.find("ephemeral='yes'") != std::string::npos ||
           xml.find("ephemeral=\"yes\"") != std::string::npos;
  }

  absl::StatusOr<std::vector<std::string>> DomainsUsing(
      const std::string& volume_id, const DiskSource& source) override {
    const std::string rbd_name = source.type == DiskSource::Type::kNetwork
                                     ? absl::StrCat(source.pool, "/", source.image)
                                     : "";
    const std::string path = source.type == DiskSource::Type::kNetwork ? "" : source.path;
    std::vector<std::string> names;
    VOLCRYPT_RETURN_IF_ERROR(ForEachDisk([&](virDomainPtr d, bool, const DomainDisk& disk) {
      const bool uses = (!volume_id.empty() && disk.serial == volume_id) ||
                        (!path.empty() && disk.path == path) ||
                        (!rbd_name.empty() && disk.network_name == rbd_name);
      const std::string name = virDomainGetName(d);
      if (uses && (names.empty() || names.back() != name)) names.push_back(name);
    }));
    return names;
  }

  absl::StatusOr<std::vector<LibvirtSecretInfo>> ListVolcryptSecrets() override {
    virSecretPtr* secrets = nullptr;
    const int n = virConnectListAllSecrets(conn_, &secrets, 0);
    if (n < 0) return LibvirtError("list secrets");
    std::vector<Secret> owned;
    for (int i = 0; i < n; ++i) owned.emplace_back(secrets[i]);
    free(secrets);
    std::vector<LibvirtSecretInfo> out;
    for (const Secret& s : owned) {
      if (virSecretGetUsageType(s.get()) != VIR_SECRET_USAGE_TYPE_VOLUME) continue;
      const char* usage = virSecretGetUsageID(s.get());
      if (usage == nullptr || !IsVolcryptUsage(usage)) continue;
      char uuid[VIR_UUID_STRING_BUFLEN];
      if (virSecretGetUUIDString(s.get(), uuid) != 0) return LibvirtError("secret UUID");
      out.push_back({uuid, usage});
    }
    return out;
  }

  absl::StatusOr<absl::optional<LiveDiskState>> InspectLiveDisk(
      const std::string& domain, const std::string& target_dev) override {
    VOLCRYPT_ASSIGN_OR_RETURN(Domain dom, LookupDomain(domain));
    return LibvirtInspectLiveDisk(dom.get(), target_dev);
  }

  absl::Status StartBlockCopy(const std::string& domain, const std::string& target_dev,
                              const std::string& destination_xml,
                              uint64_t bandwidth) override {
    VOLCRYPT_ASSIGN_OR_RETURN(Domain dom, LookupDomain(domain));
    return LibvirtStartBlockCopy(dom.get(), target_dev, destination_xml, bandwidth);
  }

  absl::Status PivotBlockCopy(const std::string& domain,
                              const std::string& target_dev) override {
    VOLCRYPT_ASSIGN_OR_RETURN(Domain dom, LookupDomain(domain));
    return LibvirtPivotBlockCopy(dom.get(), target_dev);
  }

  absl::Status AbortBlockCopy(const std::string& domain,
                              const std::string& target_dev) override {
    VOLCRYPT_ASSIGN_OR_RETURN(Domain dom, LookupDomain(domain));
    return LibvirtAbortBlockCopy(dom.get(), target_dev);
  }

  absl::StatusOr<std::vector<DomainDiskInfo>> ListSerialDisks() override {
    std::vector<DomainDiskInfo> out;
    VOLCRYPT_RETURN_IF_ERROR(
        ForEachDisk([&](virDomainPtr d, bool inactive, const DomainDisk& disk) {
          if (disk.serial.empty()) return;
          const std::string name = virDomainGetName(d);
          DomainDiskInfo* info = nullptr;
          for (DomainDiskInfo& i : out) {
            if (i.domain == name && i.target_dev == disk.target_dev &&
                i.serial == disk.serial) {
              info = &i;
            }
          }
          if (info == nullptr) {
            out.push_back({name, disk.target_dev, disk.serial, disk.secret_uuid});
            info = &out.back();
          }
          (inactive ? info->config : info->live) = true;
        }));
    return out;
  }

 private:
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

  // The usage id of secret `s` ("" for a secret of no volume usage).
  absl::StatusOr<std::string> UsageOf(virSecretPtr s, const std::string& uuid) {
    if (virSecretGetUsageType(s) != VIR_SECRET_USAGE_TYPE_VOLUME) return std::string();
    const char* usage = virSecretGetUsageID(s);
    if (usage == nullptr) return LibvirtError("secret " + uuid);
    return std::string(usage);
  }

  // A secret with `usage` but not the UUID asked for was left by an attach
  // that crashed (or by an older version): it goes unless a domain uses it.
  absl::Status RemoveStaleSecret(const std::string& usage) {
    Secret stale(virSecretLookupByUsage(conn_, VIR_SECRET_USAGE_TYPE_VOLUME, usage.c_str()));
    if (stale == nullptr) {
      if (LibvirtCode() == VIR_ERR_NO_SECRET) {
        virResetLastError();
        return absl::OkStatus();
      }
      return LibvirtError("secret for " + usage);
    }
    char uuid[VIR_UUID_STRING_BUFLEN];
    if (virSecretGetUUIDString(stale.get(), uuid) != 0) return LibvirtError("secret UUID");
    VOLCRYPT_ASSIGN_OR_RETURN(bool used, AnyDomainUses(uuid));
    if (used) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, EBUSY,
                        absl::StrCat("libvirt secret ", uuid, " for ", usage,
                                     " is still used by a domain"));
    }
    if (virSecretUndefine(stale.get()) != 0 && LibvirtCode() != VIR_ERR_NO_SECRET) {
      return LibvirtError(absl::StrCat("undefine stale secret ", uuid));
    }
    virResetLastError();
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> DomainXml(virDomainPtr dom, bool inactive) {
    std::string xml = TakeString(
        virDomainGetXMLDesc(dom, inactive ? VIR_DOMAIN_XML_INACTIVE : 0));
    if (xml.empty()) return LibvirtError("domain XML");
    return xml;
  }

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

  // Calls `fn(domain, inactive, disk)` for every disk of every domain: the
  // live XML of running domains and the persistent XML of defined ones.
  template <typename Fn>
  absl::Status ForEachDisk(Fn fn) {
    virDomainPtr* doms = nullptr;
    const int n = virConnectListAllDomains(conn_, &doms, 0);
    if (n < 0) return LibvirtError("list domains");
    std::vector<Domain> owned;
    for (int i = 0; i < n; ++i) owned.emplace_back(doms[i]);
    free(doms);
    for (const Domain& d : owned) {
      for (bool inactive : {false, true}) {
        if (inactive && virDomainIsPersistent(d.get()) != 1) continue;
        if (!inactive && virDomainIsActive(d.get()) != 1) continue;
        absl::StatusOr<std::string> xml = DomainXml(d.get(), inactive);
        // A domain undefined while we looked uses nothing any more.
        if (absl::IsNotFound(xml.status())) continue;
        if (!xml.ok()) return xml.status();
        VOLCRYPT_ASSIGN_OR_RETURN(std::vector<DomainDisk> disks, ListDisks(*xml));
        for (const DomainDisk& disk : disks) fn(d.get(), inactive, disk);
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<bool> AnyDomainUses(const std::string& uuid) {
    bool used = false;
    VOLCRYPT_RETURN_IF_ERROR(ForEachDisk([&](virDomainPtr, bool, const DomainDisk& disk) {
      // A block copy's destination names its secret in <mirror> only.
      if (disk.secret_uuid == uuid || disk.mirror_secret_uuid == uuid) used = true;
    }));
    return used;
  }

  virConnectPtr conn_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Attacher>> Attacher::Connect(const std::string& uri) {
  SilenceLibvirt();
  virConnectPtr conn = virConnectOpen(uri.c_str());
  if (conn == nullptr) {
    absl::Status s = LibvirtError("connect to libvirt at " + uri);
    return absl::Status(absl::StatusCode::kUnavailable, s.message());
  }
  return std::unique_ptr<Attacher>(new LibvirtAttacher(conn));
}


}  // namespace volcrypt
