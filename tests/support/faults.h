// Fault injection: forwarding wrappers around REAL components (a real
// FileKeyManager, MappedBackend, SQLite store) that fail, or kill the
// process, at a chosen call. Named "Faulty*": they are fakes for faults only,
// never stand-ins for a component.
#ifndef VOLCRYPT_TESTS_SUPPORT_FAULTS_H_
#define VOLCRYPT_TESTS_SUPPORT_FAULTS_H_

#include <signal.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "volcrypt/attacher.h"
#include "volcrypt/block_backend.h"
#include "volcrypt/key_manager.h"
#include "volcrypt/volume_store.h"

namespace volcrypt {
namespace testing {

// Decides, per named operation, whether the next call fails or dies.
class FaultPlan {
 public:
  // kLoseAnswer: the call reaches the real component and takes effect, then
  // fails with Unavailable, as when a server acts on a request whose answer
  // is lost (a timeout, a dropped connection).
  enum class Action { kFail, kCrash, kLoseAnswer };
  // The `nth` call (1-based) of `op` fails with Unavailable, or _exit()s.
  // Several calls of one op may be given faults.
  void Inject(const std::string& op, int nth, Action action) {
    faults_[op][nth] = action;
  }
  // Runs `work` just before the `nth` call of `op` is forwarded: another
  // process's work landing at that very moment (a race, on cue).
  void RunBefore(const std::string& op, int nth, std::function<void()> work) {
    hooks_[op][nth] = std::move(work);
  }
  // The process SIGKILLs itself just before the `k`th fault point it meets,
  // whatever its op (1-based; 0: never): with a trace of one undisturbed
  // run, a kill -9 at every step of a flow without naming the steps.
  void KillAtStep(int k) { kill_at_step_ = k; }
  // Every op met, in order.
  const std::vector<std::string>& trace() const { return trace_; }
  // Called by the wrappers before forwarding.
  absl::Status Before(const std::string& op) {
    trace_.push_back(op);
    if (static_cast<int>(trace_.size()) == kill_at_step_) raise(SIGKILL);
    int& n = calls_[op];
    ++n;
    auto hook = hooks_.find(op);
    if (hook != hooks_.end()) {
      auto work = hook->second.find(n);
      if (work != hook->second.end()) work->second();
    }
    auto it = faults_.find(op);
    if (it == faults_.end()) return absl::OkStatus();
    auto fault = it->second.find(n);
    if (fault == it->second.end()) return absl::OkStatus();
    if (fault->second == Action::kCrash) _exit(42);  // a kill, no cleanup
    if (fault->second == Action::kLoseAnswer) return absl::OkStatus();
    return absl::UnavailableError("injected fault in " + op);
  }
  // Called by the wrappers with what the real call returned: the result, or
  // Unavailable when this call's answer is to be lost.
  template <typename T>
  T After(const std::string& op, T result) {
    auto it = faults_.find(op);
    if (it == faults_.end()) return result;
    auto fault = it->second.find(calls_[op]);
    if (fault == it->second.end() || fault->second != Action::kLoseAnswer) return result;
    return absl::UnavailableError("injected lost answer from " + op);
  }
  int calls(const std::string& op) const {
    auto it = calls_.find(op);
    return it == calls_.end() ? 0 : it->second;
  }

 private:
  std::map<std::string, std::map<int, Action>> faults_;
  std::map<std::string, std::map<int, std::function<void()>>> hooks_;
  std::map<std::string, int> calls_;
  std::vector<std::string> trace_;
  int kill_at_step_ = 0;
};

#define VOLCRYPT_FAULT_POINT(op) \
  do {                           \
    absl::Status f_ = plan_->Before(op); \
    if (!f_.ok()) return f_;     \
  } while (0)

class FaultyKeyManager : public KeyManager {
 public:
  FaultyKeyManager(KeyManager* real, FaultPlan* plan) : real_(real), plan_(plan) {}
  absl::StatusOr<NewKey> CreateKey(const KeyRequest& r) override {
    VOLCRYPT_FAULT_POINT("keys.CreateKey");
    return plan_->After("keys.CreateKey", real_->CreateKey(r));
  }
  absl::StatusOr<std::string> StoreKey(const SecretBytes& k, const KeyRequest& r) override {
    VOLCRYPT_FAULT_POINT("keys.StoreKey");
    return plan_->After("keys.StoreKey", real_->StoreKey(k, r));
  }
  absl::StatusOr<SecretBytes> GetKey(const std::string& id) override {
    VOLCRYPT_FAULT_POINT("keys.GetKey");
    return real_->GetKey(id);
  }
  absl::Status DeleteKey(const std::string& id) override {
    VOLCRYPT_FAULT_POINT("keys.DeleteKey");
    return real_->DeleteKey(id);
  }
  absl::StatusOr<std::vector<std::string>> FindKeysByName(const std::string& n) override {
    VOLCRYPT_FAULT_POINT("keys.FindKeysByName");
    return real_->FindKeysByName(n);
  }
  absl::Status AddConsumer(const std::string& id, const KeyConsumer& c) override {
    VOLCRYPT_FAULT_POINT("keys.AddConsumer");
    return real_->AddConsumer(id, c);
  }
  absl::Status GrantReadAccess(const std::string& id, const std::string& user) override {
    VOLCRYPT_FAULT_POINT("keys.GrantReadAccess");
    return real_->GrantReadAccess(id, user);
  }
  bool IsSharedKey(const std::string& id) const override { return real_->IsSharedKey(id); }

 private:
  KeyManager* real_;
  FaultPlan* plan_;
};

class FaultyBackend : public BlockBackend {
 public:
  FaultyBackend(BlockBackend* real, FaultPlan* plan) : real_(real), plan_(plan) {}
  BackendKind kind() const override { return real_->kind(); }
  absl::Status Create(const VolumeLocation& w, uint64_t raw) override {
    VOLCRYPT_FAULT_POINT("backend.Create");
    return real_->Create(w, raw);
  }
  absl::Status Delete(const VolumeLocation& w) override {
    VOLCRYPT_FAULT_POINT("backend.Delete");
    return real_->Delete(w);
  }
  absl::Status Resize(const VolumeLocation& w, uint64_t raw) override {
    VOLCRYPT_FAULT_POINT("backend.Resize");
    return real_->Resize(w, raw);
  }
  absl::StatusOr<VolumeStat> Stat(const VolumeLocation& w) override { return real_->Stat(w); }
  absl::StatusOr<luks::ContentProbe> Probe(const VolumeLocation& w) override {
    return real_->Probe(w);
  }
  absl::Status WriteLuksHeader(const VolumeLocation& w, const luks::LuksHeaderImage& i,
                               uint32_t s, bool f) override {
    VOLCRYPT_FAULT_POINT("backend.WriteLuksHeader");
    return real_->WriteLuksHeader(w, i, s, f);
  }
  absl::StatusOr<luks::LuksHeaderImage> ReadLuksHeader(const VolumeLocation& w) override {
    return real_->ReadLuksHeader(w);
  }
  absl::StatusOr<DiskSource> DescribeDisk(const VolumeLocation& w) override {
    return real_->DescribeDisk(w);
  }

 private:
  BlockBackend* real_;
  FaultPlan* plan_;
};

class FaultyKeyIdChange : public KeyIdChange {
 public:
  FaultyKeyIdChange(std::unique_ptr<KeyIdChange> real, FaultPlan* plan)
      : real_(std::move(real)), plan_(plan) {}
  absl::StatusOr<int> Commit(const std::string& new_key_id) override {
    VOLCRYPT_FAULT_POINT("store.KeyIdChange.Commit");
    return real_->Commit(new_key_id);
  }

 private:
  std::unique_ptr<KeyIdChange> real_;
  FaultPlan* plan_;
};

class FaultyStore : public VolumeStore {
 public:
  FaultyStore(VolumeStore* real, FaultPlan* plan) : real_(real), plan_(plan) {}
  absl::Status CreateVolume(const VolumeRecord& r) override {
    VOLCRYPT_FAULT_POINT("store.CreateVolume");
    return real_->CreateVolume(r);
  }
  absl::StatusOr<VolumeRecord> GetVolume(const std::string& id) override {
    return real_->GetVolume(id);
  }
  absl::StatusOr<std::vector<VolumeRecord>> ListVolumes(
      const VolumeFilter& f, std::vector<SkippedRow>* skipped) override {
    return real_->ListVolumes(f, skipped);
  }
  absl::Status UpdateVolume(const VolumeRecord& r, VolumeStatus e) override {
    VOLCRYPT_FAULT_POINT("store.UpdateVolume");
    return real_->UpdateVolume(r, e);
  }
  absl::Status DeleteVolume(const std::string& id) override {
    VOLCRYPT_FAULT_POINT("store.DeleteVolume");
    return real_->DeleteVolume(id);
  }
  absl::Status ReleaseVolume(const std::string& id) override {
    VOLCRYPT_FAULT_POINT("store.ReleaseVolume");
    return real_->ReleaseVolume(id);
  }
  absl::Status CreateSnapshot(const SnapshotRecord& s) override {
    VOLCRYPT_FAULT_POINT("store.CreateSnapshot");
    return real_->CreateSnapshot(s);
  }
  absl::StatusOr<std::vector<SnapshotRecord>> ListSnapshots(
      const std::string& v, std::vector<SkippedRow>* skipped) override {
    return real_->ListSnapshots(v, skipped);
  }
  absl::Status DeleteSnapshot(const std::string& id) override {
    VOLCRYPT_FAULT_POINT("store.DeleteSnapshot");
    return real_->DeleteSnapshot(id);
  }
  absl::Status CreateBackup(const BackupRecord& b) override { return real_->CreateBackup(b); }
  absl::StatusOr<std::vector<BackupRecord>> ListBackups(
      const std::string& h, std::vector<SkippedRow>* skipped) override {
    return real_->ListBackups(h, skipped);
  }
  absl::Status DeleteBackup(const std::string& id) override { return real_->DeleteBackup(id); }
  absl::Status CreateAttachment(const AttachmentRecord& a) override {
    VOLCRYPT_FAULT_POINT("store.CreateAttachment");
    return real_->CreateAttachment(a);
  }
  absl::StatusOr<AttachmentRecord> GetAttachment(const std::string& v) override {
    return real_->GetAttachment(v);
  }
  absl::Status UpdateAttachment(const AttachmentRecord& a) override {
    VOLCRYPT_FAULT_POINT("store.UpdateAttachment");
    return real_->UpdateAttachment(a);
  }
  absl::Status SetAttachmentSecret(const std::string& v, const std::string& from,
                                   const std::string& to) override {
    VOLCRYPT_FAULT_POINT("store.SetAttachmentSecret");
    return real_->SetAttachmentSecret(v, from, to);
  }
  absl::Status DeleteAttachment(const std::string& v) override {
    VOLCRYPT_FAULT_POINT("store.DeleteAttachment");
    return real_->DeleteAttachment(v);
  }
  absl::StatusOr<int> CountKeyReferences(const std::string& k) override {
    return real_->CountKeyReferences(k);
  }
  absl::StatusOr<std::unique_ptr<KeyIdChange>> BeginKeyIdChange(
      KeyHolderKind kind, const std::string& id,
      const std::string& expected) override {
    VOLCRYPT_FAULT_POINT("store.BeginKeyIdChange");
    absl::StatusOr<std::unique_ptr<KeyIdChange>> change =
        real_->BeginKeyIdChange(kind, id, expected);
    if (!change.ok()) return change.status();
    return std::unique_ptr<KeyIdChange>(
        new FaultyKeyIdChange(std::move(*change), plan_));
  }
  absl::Status BeginKeyRotation(const std::string& id, VolumeStatus e,
                                int64_t before) override {
    VOLCRYPT_FAULT_POINT("store.BeginKeyRotation");
    return real_->BeginKeyRotation(id, e, before);
  }
  absl::Status SetRotationKey(const std::string& id, const std::string& e,
                              const std::string& k) override {
    VOLCRYPT_FAULT_POINT("store.SetRotationKey");
    return real_->SetRotationKey(id, e, k);
  }
  absl::Status SwapRotationKey(const std::string& id, const std::string& r,
                               const std::string& o) override {
    VOLCRYPT_FAULT_POINT("store.SwapRotationKey");
    return real_->SwapRotationKey(id, r, o);
  }
  absl::Status EndKeyRotation(const std::string& id, VolumeStatus to) override {
    VOLCRYPT_FAULT_POINT("store.EndKeyRotation");
    return real_->EndKeyRotation(id, to);
  }
  absl::Status BeginConversion(const ConversionRecord& c, VolumeStatus e) override {
    VOLCRYPT_FAULT_POINT("store.BeginConversion");
    return real_->BeginConversion(c, e);
  }
  absl::StatusOr<ConversionRecord> GetConversion(const std::string& id) override {
    return real_->GetConversion(id);
  }
  absl::Status UpdateConversion(const ConversionRecord& c) override {
    VOLCRYPT_FAULT_POINT("store.UpdateConversion");
    return real_->UpdateConversion(c);
  }
  absl::Status SwapConversion(const std::string& id) override {
    VOLCRYPT_FAULT_POINT("store.SwapConversion");
    return plan_->After("store.SwapConversion", real_->SwapConversion(id));
  }
  absl::Status EndConversion(const std::string& id, VolumeStatus to) override {
    VOLCRYPT_FAULT_POINT("store.EndConversion");
    return real_->EndConversion(id, to);
  }

 private:
  VolumeStore* real_;
  FaultPlan* plan_;
};

// Wraps a real (libvirt) Attacher. RunBefore hooks land between the steps of
// an attach (DefineSecret, AttachDisk) or a detach: a libvirtd killed, another
// thread's detach, on cue.
class FaultyAttacher : public Attacher {
 public:
  FaultyAttacher(Attacher* real, FaultPlan* plan) : real_(real), plan_(plan) {}
  absl::Status DefineSecret(const AttachPlan& p) override {
    VOLCRYPT_FAULT_POINT("attacher.DefineSecret");
    return plan_->After("attacher.DefineSecret", real_->DefineSecret(p));
  }
  absl::Status AttachDisk(const AttachPlan& p, const AttachTarget& t) override {
    VOLCRYPT_FAULT_POINT("attacher.AttachDisk");
    return plan_->After("attacher.AttachDisk", real_->AttachDisk(p, t));
  }
  absl::Status DetachDisk(const std::string& v, const std::string& dev,
                          const std::string& d) override {
    VOLCRYPT_FAULT_POINT("attacher.DetachDisk");
    return real_->DetachDisk(v, dev, d);
  }
  absl::StatusOr<bool> RemoveSecretIfUnused(const std::string& uuid) override {
    VOLCRYPT_FAULT_POINT("attacher.RemoveSecretIfUnused");
    return real_->RemoveSecretIfUnused(uuid);
  }
  absl::StatusOr<std::vector<std::string>> DomainsUsing(const std::string& v,
                                                        const DiskSource& s) override {
    VOLCRYPT_FAULT_POINT("attacher.DomainsUsing");
    return real_->DomainsUsing(v, s);
  }
  absl::StatusOr<std::vector<LibvirtSecretInfo>> ListVolcryptSecrets() override {
    VOLCRYPT_FAULT_POINT("attacher.ListVolcryptSecrets");
    return real_->ListVolcryptSecrets();
  }
  absl::StatusOr<std::vector<DomainDiskInfo>> ListSerialDisks() override {
    VOLCRYPT_FAULT_POINT("attacher.ListSerialDisks");
    return real_->ListSerialDisks();
  }
  absl::Status SetSecretValue(const std::string& uuid, const std::string& v,
                              const SecretBytes& p) override {
    VOLCRYPT_FAULT_POINT("attacher.SetSecretValue");
    return real_->SetSecretValue(uuid, v, p);
  }
  absl::StatusOr<std::string> DefineCephSecret(const std::string& uuid, const std::string& id,
                                               const SecretBytes& key) override {
    VOLCRYPT_FAULT_POINT("attacher.DefineCephSecret");
    return real_->DefineCephSecret(uuid, id, key);
  }
  absl::Status CheckCephSecret(const std::string& uuid, const SecretBytes* key) override {
    VOLCRYPT_FAULT_POINT("attacher.CheckCephSecret");
    return real_->CheckCephSecret(uuid, key);
  }
  absl::StatusOr<bool> SecretIsEphemeral(const std::string& uuid) override {
    VOLCRYPT_FAULT_POINT("attacher.SecretIsEphemeral");
    return real_->SecretIsEphemeral(uuid);
  }
  absl::StatusOr<absl::optional<LiveDiskState>> InspectLiveDisk(
      const std::string& d, const std::string& dev) override {
    VOLCRYPT_FAULT_POINT("attacher.InspectLiveDisk");
    return real_->InspectLiveDisk(d, dev);
  }
  absl::Status StartBlockCopy(const std::string& d, const std::string& dev,
                              const std::string& xml, uint64_t bandwidth) override {
    VOLCRYPT_FAULT_POINT("attacher.StartBlockCopy");
    return plan_->After("attacher.StartBlockCopy",
                        real_->StartBlockCopy(d, dev, xml, bandwidth));
  }
  absl::Status PivotBlockCopy(const std::string& d, const std::string& dev) override {
    VOLCRYPT_FAULT_POINT("attacher.PivotBlockCopy");
    return plan_->After("attacher.PivotBlockCopy", real_->PivotBlockCopy(d, dev));
  }
  absl::Status AbortBlockCopy(const std::string& d, const std::string& dev) override {
    VOLCRYPT_FAULT_POINT("attacher.AbortBlockCopy");
    return real_->AbortBlockCopy(d, dev);
  }
  EngineCapabilities ProbeEngines() override { return real_->ProbeEngines(); }

 private:
  Attacher* real_;
  FaultPlan* plan_;
};

#undef VOLCRYPT_FAULT_POINT

}  // namespace testing
}  // namespace volcrypt

#endif  // VOLCRYPT_TESTS_SUPPORT_FAULTS_H_
