// Issue #19: live migration of a running domain with a file volume and a
// LUKS1 RBD volume (QEMU decrypts both) between two private libvirt daemons
// (tests/scripts/libvirtd.sh twice: own mount namespaces, own host UUIDs)
// on a real Ceph cluster. The source host is "host-a", the destination
// "host-b"; both services share one store and one key manager, as hosts
// sharing a PostgreSQL database and Barbican do.
#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "lib/attach/migration.h"
#include "tests/ceph/ceph_testbed.h"
#include "tests/support/embedded_stack.h"
#include "tests/support/script_testbed.h"
#include "tests/support/test_support.h"
#include "volcrypt/attacher.h"
#include "volcrypt/errors.h"
#include "volcrypt/migration.h"
#include "volcrypt/rbd_backend.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::CephTestbed;
using ::volcrypt::testing::EmbeddedStack;
using ::volcrypt::testing::EmbeddedStackOptions;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::ScriptTestbed;
using ::volcrypt::testing::TempDir;

::testing::Environment* const kCeph = ::testing::AddGlobalTestEnvironment(new CephTestbed);
ScriptTestbed* const kA =
    static_cast<ScriptTestbed*>(::testing::AddGlobalTestEnvironment(new ScriptTestbed("libvirtd.sh")));
ScriptTestbed* const kB =
    static_cast<ScriptTestbed*>(::testing::AddGlobalTestEnvironment(new ScriptTestbed("libvirtd.sh")));

constexpr uint64_t kSize = 16 << 20;
constexpr char kDomain[] = "volcrypt-move";
constexpr char kCephSecret[] = "c3c3c3c3-0000-4000-8000-000000000019";
constexpr char kHostA[] = "host-a";
constexpr char kHostB[] = "host-b";

// A libvirt connection for assertions, independent of the code under test.
class Probe {
 public:
  explicit Probe(const std::string& uri) : conn_(virConnectOpen(uri.c_str())) {}
  ~Probe() {
    if (conn_ != nullptr) virConnectClose(conn_);
  }
  virConnectPtr conn() const { return conn_; }

  bool Runs(const std::string& name) {
    virDomainPtr d = virDomainLookupByName(conn_, name.c_str());
    if (d == nullptr) return false;
    const bool active = virDomainIsActive(d) == 1;
    virDomainFree(d);
    return active;
  }
  std::string Hmp(const std::string& name, const std::string& command) {
    virDomainPtr d = virDomainLookupByName(conn_, name.c_str());
    char* out = nullptr;
    if (d != nullptr) {
      virDomainQemuMonitorCommand(d, command.c_str(), &out, VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP);
      virDomainFree(d);
    }
    std::string result = out ? out : "";
    free(out);
    return result;
  }
  bool HasSecretFor(const std::string& volume_id) {
    virSecretPtr s = virSecretLookupByUsage(conn_, VIR_SECRET_USAGE_TYPE_VOLUME,
                                            SecretUsageId(volume_id).c_str());
    if (s == nullptr) return false;
    virSecretFree(s);
    return true;
  }
  void DefineRunningDomain(const std::string& name) {
    const std::string type = access("/dev/kvm", W_OK) == 0 ? "kvm" : "qemu";
    const std::string xml =
        "<domain type='" + type + "'><name>" + name + "</name>"
        "<memory unit='MiB'>64</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64' machine='pc'>hvm</type></os>"
        "<devices><controller type='usb' model='none'/>"
        "<controller type='scsi' index='0' model='virtio-scsi'/>"
        "<memballoon model='none'/></devices></domain>";
    virDomainPtr d = virDomainDefineXML(conn_, xml.c_str());
    ASSERT_NE(d, nullptr) << virGetLastErrorMessage();
    EXPECT_EQ(virDomainCreateWithFlags(d, VIR_DOMAIN_START_PAUSED), 0) << virGetLastErrorMessage();
    virDomainFree(d);
  }
  void DestroyAndUndefine(const std::string& name) {
    virDomainPtr d = virDomainLookupByName(conn_, name.c_str());
    if (d == nullptr) return;
    if (virDomainIsActive(d) == 1) virDomainDestroy(d);
    virDomainUndefine(d);
    virDomainFree(d);
  }
  void UndefineCephSecret() {
    virSecretPtr s = virSecretLookupByUUIDString(conn_, kCephSecret);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(virSecretUndefine(s), 0);
    virSecretFree(s);
  }
  // client.admin's cephx key as a secret of usage 'ceph', as each compute
  // host of a deployment has it (nova's rbd_secret_uuid).
  void DefineCephSecret() {
    virSecretPtr found = virSecretLookupByUUIDString(conn_, kCephSecret);
    if (found != nullptr) {
      virSecretFree(found);
      return;
    }
    const std::string xml = std::string("<secret ephemeral='no' private='yes'><uuid>") +
                            kCephSecret + "</uuid><usage type='ceph'><name>client.admin "
                            "secret</name></usage></secret>";
    virSecretPtr s = virSecretDefineXML(conn_, xml.c_str(), 0);
    ASSERT_NE(s, nullptr) << virGetLastErrorMessage();
    auto key = RunCommand({"ceph-authtool", "-p", "-n", "client.admin",
                           CephTestbed::dir() + "/keyring"});
    std::string raw;
    ASSERT_TRUE(absl::Base64Unescape(absl::StripAsciiWhitespace(key.out), &raw));
    EXPECT_EQ(virSecretSetValue(s, reinterpret_cast<const unsigned char*>(raw.data()),
                                raw.size(), 0), 0);
    virSecretFree(s);
  }

 private:
  virConnectPtr conn_;
};

class LiveMigrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);
    virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
    if (CephTestbed::conf().empty()) GTEST_SKIP() << CephTestbed::skip_reason();
    VOLCRYPT_REQUIRE_TESTBED(kA);
    VOLCRYPT_REQUIRE_TESTBED(kB);
    a_probe_ = std::make_unique<Probe>(kA->address());
    b_probe_ = std::make_unique<Probe>(kB->address());
    a_probe_->DefineCephSecret();
    b_probe_->DefineCephSecret();
    RbdBackendOptions ro;
    ro.ceph_conf = CephTestbed::conf();
    ro.libvirt_auth_secret_uuid = kCephSecret;
    rbd_ = std::move(RbdBackend::Connect(ro).value());
    a_ = std::move(Attacher::Connect(kA->address()).value());
    b_ = std::move(Attacher::Connect(kB->address()).value());
    EmbeddedStackOptions o;
    o.dir = tmp_.path();
    o.host = kHostA;
    o.rbd = rbd_.get();
    o.attacher = a_.get();
    stack_ = std::move(EmbeddedStack::Open(std::move(o)).value());
    VolumeServiceOptions bo;
    bo.keys = &stack_->keys();
    bo.store = &stack_->store();
    bo.mapped = &stack_->mapped();
    bo.rbd = rbd_.get();
    bo.attacher = b_.get();
    bo.host = kHostB;
    bo.logger = NullLogger();
    on_b_ = std::move(VolumeService::Create(bo).value());
    store_ = &stack_->store();
  }

  void TearDown() override {
    if (a_probe_) a_probe_->DestroyAndUndefine(kDomain);
    if (b_probe_) b_probe_->DestroyAndUndefine(kDomain);
  }

  VolumeService& on_a() { return stack_->service(); }

  // A running domain on A with a file volume (sdb) and an RBD volume
  // (sdc), both LUKS1 that QEMU decrypts, attached live and to the config
  // (a persistent destination copies the inactive definition), each
  // written with a pattern.
  void SetUpDomainOnA(const std::string& tag) {
    file_id_ = "file-" + tag;
    rbd_id_ = "rbd-" + tag;
    a_probe_->DefineRunningDomain(kDomain);
    CreateVolumeRequest f;
    f.id = file_id_;
    f.location = VolumeLocation::Path(tmp_.File(file_id_));
    f.size_bytes = kSize;
    ASSERT_TRUE(on_a().CreateVolume(f).ok());
    CreateVolumeRequest r;
    r.id = rbd_id_;
    r.location = VolumeLocation::Rbd("rbd", "volume-" + rbd_id_);
    r.size_bytes = kSize;
    ASSERT_TRUE(on_a().CreateVolume(r).ok());
    AttachTarget both;
    both.domain = kDomain;
    both.config = true;
    AttachPlanOptions sdb;
    sdb.target_dev = "sdb";
    AttachPlanOptions sdc;
    sdc.target_dev = "sdc";
    ASSERT_TRUE(on_a().AttachVolume(file_id_, both, sdb).ok());
    ASSERT_TRUE(on_a().AttachVolume(rbd_id_, both, sdc).ok());
    for (const char* dev : {"scsi0-0-0-1", "scsi0-0-0-2"}) {
      const std::string wrote =
          a_probe_->Hmp(kDomain, std::string("qemu-io -d ") + dev + " \"write -P 0x5a 0 64k\"");
      ASSERT_EQ(wrote.find("rror"), std::string::npos) << wrote;
    }
  }

  DomainMigrationOptions Options() const {
    DomainMigrationOptions o;
    o.domain = kDomain;
    o.source_uri = kA->address();
    o.destination_uri = kB->address();
    o.destination_host = kHostB;
    o.migrate_uri = "tcp://127.0.0.1:" + std::to_string(49152 + getpid() % 10000);
    return o;
  }

  MigrationRequest Request() const {
    MigrationRequest r;
    r.domain = kDomain;
    r.destination = b_.get();
    r.destination_host = kHostB;
    return r;
  }

  // Where the domain runs decides: its volumes' records name that host,
  // in-use and attached; only that daemon holds their secrets.
  void ExpectEverythingOn(const std::string& host) {
    const bool on_b = host == kHostB;
    Probe& here = on_b ? *b_probe_ : *a_probe_;
    Probe& there = on_b ? *a_probe_ : *b_probe_;
    EXPECT_TRUE(here.Runs(kDomain)) << host;
    EXPECT_FALSE(there.Runs(kDomain)) << host;
    for (const std::string& id : {file_id_, rbd_id_}) {
      absl::StatusOr<VolumeRecord> v = store_->GetVolume(id);
      ASSERT_TRUE(v.ok()) << v.status();
      EXPECT_EQ(v->status, VolumeStatus::kInUse) << id;
      EXPECT_EQ(v->host, host) << id;
      absl::StatusOr<AttachmentRecord> a = store_->GetAttachment(id);
      ASSERT_TRUE(a.ok()) << a.status();
      EXPECT_EQ(a->host, host) << id;
      EXPECT_EQ(a->status, "attached") << id;
      EXPECT_TRUE(here.HasSecretFor(id)) << id << " on " << host;
      EXPECT_FALSE(there.HasSecretFor(id)) << id << " not on " << host;
    }
  }

  void ExpectDataReadsBackOn(Probe& probe) {
    const std::string block = probe.Hmp(kDomain, "info block");
    size_t luks = 0;
    for (size_t at = block.find("\"driver\": \"luks\""); at != std::string::npos;
         at = block.find("\"driver\": \"luks\"", at + 1)) {
      ++luks;
    }
    EXPECT_EQ(luks, 2u) << block;
    EXPECT_NE(block.find("\"driver\": \"rbd\""), std::string::npos) << block;
    for (const char* dev : {"scsi0-0-0-1", "scsi0-0-0-2"}) {
      const std::string read =
          probe.Hmp(kDomain, std::string("qemu-io -d ") + dev + " \"read -P 0x5a 0 64k\"");
      EXPECT_EQ(read.find("Pattern verification failed"), std::string::npos) << read;
      EXPECT_EQ(read.find("rror"), std::string::npos) << read;
    }
  }

  void ReconcileBoth(bool a_first) {
    for (int i = 0; i < 2; ++i) {
      VolumeService& s = (i == 0) == a_first ? on_a() : *on_b_;
      absl::StatusOr<int> r = s.Reconcile(0);
      EXPECT_TRUE(r.ok()) << r.status();
    }
  }

  TempDir tmp_;
  std::unique_ptr<Probe> a_probe_;
  std::unique_ptr<Probe> b_probe_;
  std::unique_ptr<RbdBackend> rbd_;
  std::unique_ptr<Attacher> a_;
  std::unique_ptr<Attacher> b_;
  std::unique_ptr<EmbeddedStack> stack_;
  std::unique_ptr<VolumeService> on_b_;
  VolumeStore* store_ = nullptr;
  std::string file_id_;
  std::string rbd_id_;
};

TEST_F(LiveMigrationTest, RunningDomainMovesWithBothVolumesAndLeavesNoSecretOnTheSource) {
  SetUpDomainOnA("move");
  absl::StatusOr<MigrationPlan> moved = MigrateDomain(on_a(), *b_, Options());
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->volume_ids.size(), 2u);
  EXPECT_TRUE(moved->files);
  ExpectEverythingOn(kHostB);
  ExpectDataReadsBackOn(*b_probe_);
  // B's own detach leaves no secret there either.
  for (const std::string& id : {file_id_, rbd_id_}) {
    absl::StatusOr<VolumeRecord> v = on_b_->DetachVolume(id);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->status, VolumeStatus::kAvailable);
    EXPECT_FALSE(b_probe_->HasSecretFor(id));
  }
}

TEST_F(LiveMigrationTest, AWrongMigrateUriFailsAndLeavesEverythingOnTheSource) {
  SetUpDomainOnA("wrong-uri");
  DomainMigrationOptions o = Options();
  // An address no interface here has: the destination QEMU cannot listen
  // on it. (A free port on loopback would work: the destination listens.)
  o.migrate_uri = "tcp://192.0.2.1:49999";
  absl::StatusOr<MigrationPlan> moved = MigrateDomain(on_a(), *b_, o);
  EXPECT_FALSE(moved.ok());
  ExpectEverythingOn(kHostA);
  ExpectDataReadsBackOn(*a_probe_);
}

TEST_F(LiveMigrationTest, ADeadDestinationDaemonFailsTheMoveAndReconcileClearsItsSecrets) {
  SetUpDomainOnA("dead-dest");
  ASSERT_TRUE(on_a().PrepareMigration(Request()).ok());
  kB->Stop();  // the destination daemon dies between prepare and migrate
  const DomainMigrationOptions o = Options();
  LiveMigrationRequest live{kDomain, o.source_uri, o.destination_uri, o.migrate_uri, true};
  EXPECT_FALSE(MigrateDomainLive(live).ok());
  // The abort cannot reach B, and says so; the records are A's again.
  absl::Status abort = on_a().AbortMigration(Request());
  EXPECT_FALSE(abort.ok());
  EXPECT_EQ(store_->GetVolume(file_id_)->status, VolumeStatus::kInUse);
  EXPECT_EQ(store_->GetAttachment(rbd_id_)->status, "attached");
  ASSERT_TRUE(kB->Restart());
  b_ = std::move(Attacher::Connect(kB->address()).value());
  b_probe_ = std::make_unique<Probe>(kB->address());
  VolumeServiceOptions bo;
  bo.keys = &stack_->keys();
  bo.store = store_;
  bo.mapped = &stack_->mapped();
  bo.rbd = rbd_.get();
  bo.attacher = b_.get();
  bo.host = kHostB;
  bo.logger = NullLogger();
  on_b_ = std::move(VolumeService::Create(bo).value());
  // B kept the persistent secrets Prepare defined; its reconcile removes
  // them, since no record explains them.
  EXPECT_TRUE(b_probe_->HasSecretFor(file_id_));
  ReconcileBoth(/*a_first=*/true);
  ExpectEverythingOn(kHostA);
}

// What a kill of the migrating process leaves after each step (each step
// commits before the next begins), then a reconcile on both hosts, in
// either order.
TEST_F(LiveMigrationTest, AKillAfterPrepareIsReconciledBackToTheSource) {
  for (bool a_first : {true, false}) {
    SetUpDomainOnA(a_first ? "kp-a" : "kp-b");
    ASSERT_TRUE(on_a().PrepareMigration(Request()).ok());
    EXPECT_EQ(store_->GetVolume(file_id_)->status, VolumeStatus::kMigrating);
    // A second migration of the domain meanwhile is refused, not joined.
    absl::StatusOr<MigrationPlan> again = on_a().PrepareMigration(Request());
    EXPECT_EQ(ErrnoOf(again.status()), EBUSY) << again.status();
    EXPECT_TRUE(b_probe_->HasSecretFor(file_id_));
    // Within the grace, the destination's reconcile leaves the secrets.
    ASSERT_TRUE(on_b_->Reconcile(600).ok());
    EXPECT_TRUE(b_probe_->HasSecretFor(rbd_id_));
    ReconcileBoth(a_first);
    ExpectEverythingOn(kHostA);
    ExpectDataReadsBackOn(*a_probe_);
    for (const std::string& id : {file_id_, rbd_id_}) ASSERT_TRUE(on_a().DetachVolume(id).ok());
    a_probe_->DestroyAndUndefine(kDomain);
  }
}

TEST_F(LiveMigrationTest, AKillAfterLibvirtMovedTheDomainIsReconciledToTheDestination) {
  for (bool a_first : {true, false}) {
    SetUpDomainOnA(a_first ? "km-a" : "km-b");
    ASSERT_TRUE(on_a().PrepareMigration(Request()).ok());
    const DomainMigrationOptions o = Options();
    LiveMigrationRequest live{kDomain, o.source_uri, o.destination_uri, o.migrate_uri, true};
    absl::Status moved = MigrateDomainLive(live);  // the libvirt step alone
    ASSERT_TRUE(moved.ok()) << moved;
    ReconcileBoth(a_first);
    ExpectEverythingOn(kHostB);
    ExpectDataReadsBackOn(*b_probe_);
    for (const std::string& id : {file_id_, rbd_id_}) ASSERT_TRUE(on_b_->DetachVolume(id).ok());
    b_probe_->DestroyAndUndefine(kDomain);
  }
}

// The rbd disk's <auth> moves with it and names the same ceph secret on
// the destination: missing there, prepare refuses before anything changes
// (libvirt would otherwise fail in QEMU's connect, late).
TEST_F(LiveMigrationTest, ADestinationWithoutTheCephSecretIsRefusedBeforeAnythingChanges) {
  SetUpDomainOnA("no-ceph-secret");
  b_probe_->UndefineCephSecret();
  absl::StatusOr<MigrationPlan> plan = on_a().PrepareMigration(Request());
  b_probe_->DefineCephSecret();
  EXPECT_EQ(ErrnoOf(plan.status()), ENOENT) << plan.status();
  EXPECT_NE(plan.status().message().find(kCephSecret), std::string::npos) << plan.status();
  EXPECT_NE(plan.status().message().find("on the destination"), std::string::npos);
  ExpectEverythingOn(kHostA);
}

TEST_F(LiveMigrationTest, ABlockDeviceIsRefusedBeforeAnythingChanges) {
  a_probe_->DefineRunningDomain(kDomain);
  // A mapped volume on a block device (a loop device standing in for an
  // iSCSI/FC/LVM one): the same path may be another disk on the destination.
  const std::string backing = tmp_.File("loop-backing");
  ASSERT_EQ(RunCommand({"truncate", "-s", "20M", backing}).exit_code, 0);
  auto loop = RunCommand({"losetup", "-f", "--show", backing});
  ASSERT_EQ(loop.exit_code, 0) << loop.err;
  const std::string dev(absl::StripAsciiWhitespace(loop.out));
  CreateVolumeRequest c;
  c.id = "dev-vol";
  c.location = VolumeLocation::Path(dev);
  c.size_bytes = kSize;
  absl::StatusOr<VolumeRecord> v = on_a().CreateVolume(c);
  ASSERT_TRUE(v.ok()) << v.status();
  AttachTarget both;
  both.domain = kDomain;
  both.config = true;
  ASSERT_TRUE(on_a().AttachVolume("dev-vol", both, {}).ok());
  absl::StatusOr<MigrationPlan> plan = on_a().PrepareMigration(Request());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition) << plan.status();
  EXPECT_EQ(ErrnoOf(plan.status()), EOPNOTSUPP);
  EXPECT_NE(plan.status().message().find("not a regular file"), std::string::npos);
  EXPECT_EQ(store_->GetVolume("dev-vol")->status, VolumeStatus::kInUse);
  EXPECT_EQ(store_->GetAttachment("dev-vol")->status, "attached");
  EXPECT_FALSE(b_probe_->HasSecretFor("dev-vol"));
  ASSERT_TRUE(on_a().DetachVolume("dev-vol").ok());
  ASSERT_TRUE(on_a().DeleteVolume("dev-vol").ok());
  RunCommand({"losetup", "-d", dev});
}

// The operator's command, end to end: `volcrypt domain migrate` moves a
// domain whose file volume the CLI attached on A; the CLI on host-b then
// detaches it there. A wrong destination URI first changes nothing.
TEST_F(LiveMigrationTest, TheCliMovesADomainAndItsHostBDetachLeavesNoSecret) {
  const char* cli = std::getenv("VOLCRYPT_CLI");
  ASSERT_NE(cli, nullptr) << "VOLCRYPT_CLI is not set (meson test sets it)";
  const std::string state = tmp_.File("cli-state");
  const std::string file = tmp_.File("cli-vol");
  auto run = [&](const std::string& host, std::vector<std::string> args) {
    std::vector<std::string> argv = {cli, "--state-dir", state, "--host", host};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  };
  a_probe_->DefineRunningDomain(kDomain);
  auto made = run(kHostA, {"volume", "create", "--path", file, "--size", "16M", "--id", "cv"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto attached = run(kHostA, {"attach", "cv", "--domain", kDomain, "--connect", kA->address(),
                               "--live", "--config"});
  ASSERT_EQ(attached.exit_code, 0) << attached.err;
  const std::string migrate_uri = Options().migrate_uri;
  auto wrong = run(kHostA, {"domain", "migrate", kDomain, "--connect", kA->address(), "--to",
                            "qemu:///system?socket=" + tmp_.File("no-such-socket"),
                            "--to-host", kHostB, "--migrate-uri", migrate_uri});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("volcrypt: domain migrate " + std::string(kDomain)),
            std::string::npos) << wrong.err;
  EXPECT_TRUE(a_probe_->Runs(kDomain));
  EXPECT_TRUE(a_probe_->HasSecretFor("cv"));
  auto moved = run(kHostA, {"domain", "migrate", kDomain, "--connect", kA->address(), "--to",
                            kB->address(), "--to-host", kHostB, "--migrate-uri", migrate_uri});
  ASSERT_EQ(moved.exit_code, 0) << moved.err;
  EXPECT_NE(moved.out.find("\"cv\""), std::string::npos) << moved.out;
  EXPECT_TRUE(b_probe_->Runs(kDomain));
  EXPECT_FALSE(a_probe_->HasSecretFor("cv"));
  EXPECT_TRUE(b_probe_->HasSecretFor("cv"));
  const std::string read = b_probe_->Hmp(kDomain, "info block");
  EXPECT_NE(read.find("\"driver\": \"luks\""), std::string::npos) << read;
  auto detached = run(kHostB, {"detach", "cv", "--connect", kB->address()});
  ASSERT_EQ(detached.exit_code, 0) << detached.err;
  EXPECT_FALSE(b_probe_->HasSecretFor("cv"));
}

// `domain migrate` SIGKILLed before each step it takes (store, key manager
// and libvirt calls, on either host), then `volcrypt reconcile` on both
// hosts, in alternating order: the domain runs on exactly one host, the
// records name that host, in-use and attached, and only that host's libvirt
// holds the volume's secret.
TEST_F(LiveMigrationTest, AKillOfTheCliAtEveryStepIsReconciledOnBothHosts) {
  const char* cli = std::getenv("VOLCRYPT_CLI");
  ASSERT_NE(cli, nullptr) << "VOLCRYPT_CLI is not set (meson test sets it)";
  char self[4096] = {};
  ASSERT_GT(readlink("/proc/self/exe", self, sizeof(self) - 1), 0);
  std::string child(self);
  child = child.substr(0, child.rfind('/')) + "/live_migration_crash_child";
  const std::string migrate_uri = Options().migrate_uri;
  auto cli_run = [&](const std::string& state, const std::string& host,
                     std::vector<std::string> args) {
    std::vector<std::string> argv = {cli, "--state-dir", state, "--host", host};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  };
  // A fresh state directory and volume "kv<k>" attached to a domain on A.
  auto set_up = [&](int k, std::string* state, std::string* id) {
    *state = tmp_.File("kill-" + std::to_string(k));
    *id = "kv" + std::to_string(k);
    a_probe_->DestroyAndUndefine(kDomain);
    b_probe_->DestroyAndUndefine(kDomain);
    a_probe_->DefineRunningDomain(kDomain);
    auto made = cli_run(*state, kHostA, {"volume", "create", "--path", *state + ".vol",
                                         "--size", "16M", "--id", *id});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    auto attached = cli_run(*state, kHostA, {"attach", *id, "--domain", kDomain, "--connect",
                                             kA->address(), "--live", "--config"});
    ASSERT_EQ(attached.exit_code, 0) << attached.err;
  };
  auto migrate = [&](const std::string& state, int kill_at) {
    return RunCommand({child, "--state", state, "--host", kHostA, "--kill-at",
                       std::to_string(kill_at), kDomain, kA->address(), kB->address(), kHostB,
                       migrate_uri});
  };
  std::string state, id;
  set_up(0, &state, &id);
  auto trace = migrate(state, 0);
  ASSERT_EQ(trace.exit_code, 0) << trace.err;
  const std::vector<std::string> steps = absl::StrSplit(
      absl::StripTrailingAsciiWhitespace(trace.out), '\n');
  ASSERT_GT(steps.size(), 3u);
  for (size_t k = 1; k <= steps.size(); ++k) {
    SCOPED_TRACE("killed before step " + std::to_string(k) + ": " + steps[k - 1]);
    set_up(static_cast<int>(k), &state, &id);
    auto killed = migrate(state, static_cast<int>(k));
    EXPECT_EQ(killed.exit_code, -1) << killed.err;  // RunCommand: ended by a signal
    const bool a_first = k % 2 == 1;
    for (int i = 0; i < 2; ++i) {
      const bool on_a = (i == 0) == a_first;
      auto r = cli_run(state, on_a ? kHostA : kHostB,
                       {"reconcile", "--grace", "0", "--connect",
                        on_a ? kA->address() : kB->address()});
      EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    const bool on_b = b_probe_->Runs(kDomain);
    EXPECT_NE(on_b, a_probe_->Runs(kDomain));
    const std::string host = on_b ? kHostB : kHostA;
    auto store = OpenSqliteVolumeStore(state + "/volumes.db");
    ASSERT_TRUE(store.ok()) << store.status();
    absl::StatusOr<VolumeRecord> v = (*store)->GetVolume(id);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->status, VolumeStatus::kInUse);
    EXPECT_EQ(v->host, host);
    absl::StatusOr<AttachmentRecord> a = (*store)->GetAttachment(id);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(a->host, host);
    EXPECT_EQ(a->status, "attached");
    EXPECT_TRUE((on_b ? *b_probe_ : *a_probe_).HasSecretFor(id));
    EXPECT_FALSE((on_b ? *a_probe_ : *b_probe_).HasSecretFor(id));
  }
}

}  // namespace
}  // namespace volcrypt
