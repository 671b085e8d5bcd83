// File: volcrypt/attacher.h
// -----------------------------------------------------------------------------
// Attacher is volcrypt's seam to libvirt (in the style of leveldb's Env): an
// interface whose one production implementation, returned by Connect(),
// talks to libvirtd. It puts a volume's passphrase into a libvirt secret
// (value set with virSecretSetValue, never in XML) and attaches or detaches
// the encrypted disk, so that QEMU decrypts; it also tells what libvirt
// really holds (secrets, disks), since libvirt, not volcrypt's records, is
// the truth about attachments. VolumeService::AttachVolume / DetachVolume
// order these steps and record them; use those, not this, unless you keep
// your own records. Tests wrap it (tests/support/faults.h FaultyAttacher)
// to fail or race a step on cue.
//
//   absl::StatusOr<std::unique_ptr<Attacher>> libvirt =
//       Attacher::Connect("qemu:///system");
//   AttachTarget where;  where.domain = "instance-0001";
//   absl::Status s = (*libvirt)->Attach(plan, where);
//
// Errors carry libvirt's own message: NotFound (no such domain or secret),
// Unavailable (libvirtd unreachable), FailedPrecondition (a conflicting
// secret, a disk already on that target), Internal (QEMU refused, e.g.
// "Invalid password, cannot unlock any keyslot", or a connection that
// libvirtd dropped).
//
// Thread safety: every implementation must be safe to use from several
// threads at once without external locking (libvirt connections are).
#ifndef VOLCRYPT_ATTACHER_H_
#define VOLCRYPT_ATTACHER_H_

#include "volcrypt/engine_policy.h"
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "volcrypt/attach_xml.h"
#include "volcrypt/block_backend.h"

namespace volcrypt {

// Where and how a disk is attached: the running domain (live), its
// persistent config (config), or both.
struct AttachTarget {
  std::string domain;  // name or UUID
  bool live = true;
  bool config = false;
};

// A libvirt secret of volume usage.
struct LibvirtSecretInfo {
  std::string uuid;
  std::string usage_id;  // "/volcrypt/..." for volcrypt's (IsVolcryptUsage)
};

// A disk with a <serial> in a domain, as libvirt has it.
struct DomainDiskInfo {
  std::string domain;       // name
  std::string target_dev;   // "sdb"
  std::string serial;       // volcrypt puts the volume id here
  std::string secret_uuid;  // of its <encryption>; "" if none
  bool live = false;        // in the running domain
  bool config = false;      // in the persistent config
};

// A disk of a running domain as libvirt has it live, with the block copy
// (libvirt's blockcopy job, a QEMU mirror) running on it, if any. Sources
// are a file or block path, or "pool/image" for an rbd disk.
struct LiveDiskState {
  std::string serial;
  std::string source;
  std::string secret_uuid;      // of its <encryption>; "" if none
  uint64_t capacity_bytes = 0;  // what the guest sees
  bool copying = false;         // a block copy runs: <mirror> in the live XML
  bool copy_ready = false;      // mirroring: a pivot may switch over now
  std::string copy_destination;
  std::string copy_secret_uuid;
  uint64_t copied_bytes = 0;    // libvirt's cur/end of the job
  uint64_t copy_total_bytes = 0;
};

class Attacher {
 public:
  // Opens a libvirt connection; the implementation is libvirt's.
  // Unavailable if libvirtd cannot be reached.
  static absl::StatusOr<std::unique_ptr<Attacher>> Connect(
      const std::string& uri);

  Attacher(const Attacher&) = delete;
  Attacher& operator=(const Attacher&) = delete;
  virtual ~Attacher();

  // Defines the secret of `plan` (or reuses one with the same UUID and the
  // same volcrypt usage) and sets its value. A secret with that UUID and
  // another usage is FailedPrecondition. A volcrypt secret with the plan's
  // usage but another UUID (left by a crashed attach) is undefined first if
  // no domain uses it, and is FailedPrecondition (EBUSY) if one does.
  virtual absl::Status DefineSecret(const AttachPlan& plan) = 0;

  // Attaches `plan.disk_xml` to `target` (live, config or both). Touches no
  // secret: the one the disk names must exist (DefineSecret).
  virtual absl::Status AttachDisk(const AttachPlan& plan,
                                  const AttachTarget& target) = 0;

  // Removes the disk on `target_dev` whose serial is `volume_id` from
  // `domain`, wherever libvirt has it: from the running domain if it runs
  // AND from the persistent config if the domain is defined, whatever mode
  // it was attached in. A disk that is not there is not an error; a disk on
  // that target with another serial is FailedPrecondition (EBUSY) and is
  // never removed. NotFound if the domain does not exist.
  virtual absl::Status DetachDisk(const std::string& volume_id,
                                  const std::string& target_dev,
                                  const std::string& domain) = 0;

  // Undefines secret `uuid` if it is volcrypt's (IsVolcryptUsage) and no
  // domain, running or defined, references it. A missing secret is not an
  // error. Returns whether it was removed.
  virtual absl::StatusOr<bool> RemoveSecretIfUnused(const std::string& uuid) = 0;

  // The names of the domains whose live or persistent XML has a disk whose
  // <serial> is `volume_id`, or whose source is `source` (the same file or
  // block path, or the same rbd pool and image). Empty if none.
  virtual absl::StatusOr<std::vector<std::string>> DomainsUsing(
      const std::string& volume_id, const DiskSource& source) = 0;

  // Every secret whose usage id is volcrypt's (IsVolcryptUsage).
  virtual absl::StatusOr<std::vector<LibvirtSecretInfo>> ListVolcryptSecrets() = 0;

  // Every disk that has a <serial>, in every domain, live and persistent
  // (one entry per domain and target).
  virtual absl::StatusOr<std::vector<DomainDiskInfo>> ListSerialDisks() = 0;

  // Sets the value of secret `uuid`, which must be the secret of volume
  // `volume_id` (its volcrypt usage), to `passphrase`: a key rotation of an
  // attached volume, so that the next open (a restart, a migration) finds
  // the new passphrase. libvirt keeps one value for the running and the
  // persistent domain. NotFound if there is no such secret;
  // FailedPrecondition (EEXIST) if it has another usage.
  virtual absl::Status SetSecretValue(const std::string& uuid,
                                      const std::string& volume_id,
                                      const SecretBytes& passphrase) = 0;

  // Puts client `client_id`'s cephx key (decoded: ReadCephxKey) into the
  // libvirt secret of usage 'ceph' that rbd disks' <auth> names, and returns
  // its UUID. Secret `uuid` is defined (private, persistent, usage name
  // "client.<client_id> secret") or, if it exists with usage 'ceph', gets
  // the new value; "" reuses the secret of that usage name, or makes a new
  // UUID. FailedPrecondition (EEXIST) if `uuid` is a secret of another
  // usage, or if another secret already has the usage name (libvirt allows
  // one per name; the message gives its UUID).
  virtual absl::StatusOr<std::string> DefineCephSecret(
      const std::string& uuid, const std::string& client_id,
      const SecretBytes& cephx_key) = 0;

  // Checks that libvirt has secret `uuid` of usage 'ceph' with a value, and,
  // when `cephx_key` is given and libvirt lets its value be read (a
  // non-private secret), that it holds that key. NotFound (ENOENT) if
  // missing; FailedPrecondition: another usage (EEXIST), no value (ENOKEY),
  // another key (EKEYREJECTED). A private secret's value cannot be read, so
  // a wrong key in it shows only when QEMU connects.
  virtual absl::Status CheckCephSecret(const std::string& uuid,
                                       const SecretBytes* cephx_key) = 0;

  // Whether secret `uuid` is ephemeral (never written to the daemon's disk),
  // so that a live migration defines its twin on the destination the same
  // way. NotFound if there is no such secret. The default implementation
  // (for wrappers that do not forward it) is Unimplemented.
  virtual absl::StatusOr<bool> SecretIsEphemeral(const std::string& uuid);

  // Block copy (lib/attach/block_copy.h drives these; its header comment
  // says what each step leaves). The defaults are Unimplemented.
  //
  // The live state of `target_dev` in running domain `domain`; nullopt if
  // the domain has no disk there. NotFound if no such domain;
  // FailedPrecondition if it does not run.
  virtual absl::StatusOr<absl::optional<LiveDiskState>> InspectLiveDisk(
      const std::string& domain, const std::string& target_dev);
  // Starts copying `target_dev` onto the disk `destination_xml` describes,
  // which must exist already (REUSE_EXT) with the same payload size; the
  // job is transient (a persistent domain allows no other). `bandwidth`
  // caps it in bytes per second (0: unlimited). libvirt's error as is.
  virtual absl::Status StartBlockCopy(const std::string& domain,
                                      const std::string& target_dev,
                                      const std::string& destination_xml,
                                      uint64_t bandwidth);
  // Switches the disk over to the copy (the copy must be ready); libvirt
  // then names the destination in the live and the persistent XML.
  virtual absl::Status PivotBlockCopy(const std::string& domain,
                                      const std::string& target_dev);
  // Ends the copy and keeps the disk on its source. No copy is not an error.
  virtual absl::Status AbortBlockCopy(const std::string& domain,
                                      const std::string& target_dev);

  // What this host's libvirt and QEMU can attach (engine_policy.h). The
  // default, for attachers that cannot tell, is the stock Debian 12 stack's:
  // librbd-engine disks attach cold only.
  virtual EngineCapabilities ProbeEngines() { return EngineCapabilities{}; }

  // DefineSecret, then AttachDisk; if the disk cannot be attached, removes
  // the secret again unless a domain uses it, and returns libvirt's error.
  absl::Status Attach(const AttachPlan& plan, const AttachTarget& target);

 protected:
  Attacher() = default;
};

}  // namespace volcrypt

#endif  // VOLCRYPT_ATTACHER_H_
