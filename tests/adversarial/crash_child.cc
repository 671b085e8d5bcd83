// The process the kill matrices kill (tests/adversarial/crash_test.cc): one
// VolumeService flow over the real components of a CLI state directory (file
// keys, SQLite, Ceph, libvirt), each behind its fault wrapper, that SIGKILLs
// itself at the Nth step it meets (FaultPlan::KillAtStep). A separate
// program, not a fork: librados and libvirt threads do not survive a fork.
//
//   adversarial_crash_child --state DIR --host H --kill-at N
//       [--ceph-conf FILE --ceph-secret UUID] [--connect URI] OP ARGS...
//   OP: create-rbd ID POOL IMAGE qemu|librbd luks1|luks2 [native]
//       create-file ID PATH | delete ID | extend ID BYTES
//       snapshot VOLUME SNAPSHOT | snapshot-delete SNAPSHOT
//       clone SNAPSHOT NEW_ID POOL IMAGE
//       attach ID DOMAIN TARGET_DEV live|config|both | detach ID
//       migrate FIXED_KEY_FILE   (keys migrate: the fixed key -> file keys)
//       plant-duplicates ID FIXED_KEY_FILE   (two secrets named for volume
//           ID's migrated key, as two interrupted migrations leave them)
//
// When the flow returns: the steps it met, one per line, on stdout; its
// status on stderr; exit 0 if it succeeded, 1 if not, 2 on bad usage.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/faults.h"
#include "tests/support/faulty_rbd.h"
#include "volcrypt/attacher.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/fixed_key_manager.h"
#include "volcrypt/key_migration.h"
#include "volcrypt/mapped_backend.h"
#include "volcrypt/rbd_backend.h"
#include "volcrypt/volume_service.h"

using namespace volcrypt;
using volcrypt::testing::FaultPlan;

namespace {

int Usage(const char* why) {
  std::fprintf(stderr, "adversarial_crash_child: %s\n", why);
  return 2;
}

// The fixed-key migration, over the same faulty store and key manager.
absl::Status Migrate(VolumeStore& store, KeyManager& dest, const std::vector<std::string>& a,
                     const std::string& host) {
  auto fixed_key = ReadFixedKeyFile(a[a.size() - 1]);
  if (!fixed_key.ok()) return fixed_key.status();
  std::unique_ptr<KeyManager> fixed = NewFixedKeyManager(std::move(*fixed_key), nullptr);
  if (a[0] == "plant-duplicates") {
    KeyRequest req;
    req.name = MigratedKeyName(KeyHolderKind::kVolume, a[1]);
    auto bytes = fixed->GetKey(kFixedKeyId);
    if (!bytes.ok()) return bytes.status();
    for (int i = 0; i < 2; ++i) {
      auto id = dest.StoreKey(*bytes, req);
      if (!id.ok()) return id.status();
    }
    return absl::OkStatus();
  }
  KeyMigrationOptions o;
  o.host = host;
  auto report = MigrateFixedKeyItems(store, fixed.get(), dest, o, NullLogger());
  if (!report.ok()) return report.status();
  if (report->failed != 0) return absl::InternalError("an item failed to migrate");
  return absl::OkStatus();
}

absl::Status Run(VolumeService& service, const std::vector<std::string>& a) {
  const std::string& op = a[0];
  auto need = [&](size_t n) { return a.size() >= n; };
  if (op == "create-rbd" && need(6)) {
    CreateVolumeRequest r;
    r.id = a[1];
    r.location = VolumeLocation::Rbd(a[2], a[3]);
    r.size_bytes = 16 << 20;
    r.encryption.engine = a[4] == "librbd" ? EncryptionEngine::kLibrbd : EncryptionEngine::kQemu;
    r.encryption.format = a[5] == "luks2" ? LuksFormat::kLuks2 : LuksFormat::kLuks1;
    r.native_rbd_format = a.size() > 6 && a[6] == "native";
    return service.CreateVolume(r).status();
  }
  if (op == "create-file" && need(3)) {
    CreateVolumeRequest r;
    r.id = a[1];
    r.location = VolumeLocation::Path(a[2]);
    r.size_bytes = 16 << 20;
    return service.CreateVolume(r).status();
  }
  if (op == "delete" && need(2)) return service.DeleteVolume(a[1]);
  if (op == "extend" && need(3)) {
    return service.ExtendVolume(a[1], std::strtoull(a[2].c_str(), nullptr, 10)).status();
  }
  if (op == "snapshot" && need(3)) return service.CreateSnapshot(a[1], a[2]).status();
  if (op == "snapshot-delete" && need(2)) return service.DeleteSnapshot(a[1]);
  if (op == "clone" && need(5)) {
    return service.CloneVolume(a[1], a[2], VolumeLocation::Rbd(a[3], a[4])).status();
  }
  if (op == "attach" && need(5)) {
    AttachTarget t;
    t.domain = a[2];
    t.live = a[4] != "config";
    t.config = a[4] != "live";
    AttachPlanOptions o;
    o.target_dev = a[3];
    return service.AttachVolume(a[1], t, o).status();
  }
  if (op == "detach" && need(2)) return service.DetachVolume(a[1]).status();
  if (op == "convert-rbd" && need(6)) {  // ID POOL IMAGE ENGINE FORMAT: a new key
    ConvertVolumeRequest r;
    r.id = a[1];
    r.kind = ConversionKind::kReencrypt;
    r.target = VolumeLocation::Rbd(a[2], a[3]);
    r.encryption.engine = a[4] == "librbd" ? EncryptionEngine::kLibrbd : EncryptionEngine::kQemu;
    r.encryption.format = a[5] == "luks2" ? LuksFormat::kLuks2 : LuksFormat::kLuks1;
    return service.ConvertVolume(r).status();
  }
  return absl::InvalidArgumentError("unknown operation or missing arguments: " + op);
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  int i = 1;
  for (; i + 1 < argc && std::string(argv[i]).rfind("--", 0) == 0; i += 2) {
    flags[std::string(argv[i]).substr(2)] = argv[i + 1];
  }
  const std::vector<std::string> op(argv + i, argv + argc);
  if (op.empty() || flags["state"].empty()) return Usage("--state DIR and OP are needed");
  const std::string state = flags["state"];

  absl::StatusOr<SecretBytes> master = ReadMasterKeyFile(state + "/master.key");
  if (absl::IsNotFound(master.status())) {
    master = CreateMasterKeyFile(state + "/master.key");
    if (absl::IsAlreadyExists(master.status())) master = ReadMasterKeyFile(state + "/master.key");
  }
  if (!master.ok()) return Usage(master.status().ToString().c_str());
  auto keys = NewFileKeyManager(state + "/keys", std::move(*master), nullptr);
  auto store = OpenSqliteVolumeStore(state + "/volumes.db");
  if (!keys.ok() || !store.ok()) return Usage("cannot open the keys or the store");
  std::unique_ptr<BlockBackend> mapped = NewMappedBackend();
  std::unique_ptr<RbdBackend> rbd;
  if (!flags["ceph-conf"].empty()) {
    RbdBackendOptions ro;
    ro.ceph_conf = flags["ceph-conf"];
    ro.libvirt_auth_secret_uuid = flags["ceph-secret"];
    auto connected = RbdBackend::Connect(ro);
    if (!connected.ok()) return Usage(connected.status().ToString().c_str());
    rbd = std::move(*connected);
  }
  std::unique_ptr<Attacher> attacher;
  if (!flags["connect"].empty()) {
    auto connected = Attacher::Connect(flags["connect"]);
    if (!connected.ok()) return Usage(connected.status().ToString().c_str());
    attacher = std::move(*connected);
  }

  FaultPlan plan;
  plan.KillAtStep(std::atoi(flags["kill-at"].c_str()));
  volcrypt::testing::FaultyKeyManager faulty_keys(keys->get(), &plan);
  volcrypt::testing::FaultyStore faulty_store(store->get(), &plan);
  volcrypt::testing::FaultyBackend faulty_mapped(mapped.get(), &plan);
  std::unique_ptr<volcrypt::testing::FaultyRbdBackend> faulty_rbd;
  if (rbd) faulty_rbd = std::make_unique<volcrypt::testing::FaultyRbdBackend>(rbd.get(), &plan);
  std::unique_ptr<volcrypt::testing::FaultyAttacher> faulty_attacher;
  if (attacher) {
    faulty_attacher = std::make_unique<volcrypt::testing::FaultyAttacher>(attacher.get(), &plan);
  }
  VolumeServiceOptions o;
  o.keys = &faulty_keys;
  o.store = &faulty_store;
  o.mapped = &faulty_mapped;
  o.rbd = faulty_rbd.get();
  o.attacher = faulty_attacher.get();
  o.host = flags["host"];
  o.logger = NullLogger();
  auto service = VolumeService::Create(o);
  if (!service.ok()) return Usage(service.status().ToString().c_str());

  const bool migration = op[0] == "migrate" || op[0] == "plant-duplicates";
  if (migration && op.size() < 2) return Usage("migrate needs the fixed key file");
  const absl::Status s = migration ? Migrate(faulty_store, faulty_keys, op, flags["host"])
                                   : Run(**service, op);
  for (const std::string& step : plan.trace()) std::printf("%s\n", step.c_str());
  std::fprintf(stderr, "%s\n", s.ToString().c_str());
  return s.ok() ? 0 : 1;
}
