// Adversarial scenarios against a private libvirtd and paused QEMU domains
// (tests/libvirt/libvirt_testbed.h): domains started behind volcrypt's back,
// attach and detach racing on a shared key, libvirtd killed mid-attach.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "tests/adversarial/adversary.h"
#include "tests/adversarial/end_state.h"
#include "tests/libvirt/libvirt_testbed.h"
#include "tests/support/test_support.h"

namespace volcrypt {
namespace testing {
namespace {

LibvirtTestbed* const kLibvirt = static_cast<LibvirtTestbed*>(
    ::testing::AddGlobalTestEnvironment(new LibvirtTestbed));

constexpr char kSize[] = "16M";
constexpr char kX[] = "adv-x";
constexpr char kY[] = "adv-y";

class LibvirtAdversary : public ::testing::Test {
 protected:
  LibvirtAdversary() : op_({"--state-dir", tmp_.File("state")}) {}

  void SetUp() override {
    if (LibvirtTestbed::uri().empty()) GTEST_SKIP() << LibvirtTestbed::skip_reason();
  }

  void TearDown() override {
    if (LibvirtTestbed::uri().empty()) return;
    LibvirtProbe probe;
    if (probe.conn() == nullptr) return;
    probe.DestroyAndUndefine(kX);
    probe.DestroyAndUndefine(kY);
    // Leftovers of a failed test must not fail the next one's end state.
    virSecretPtr* secrets = nullptr;
    const int n = virConnectListAllSecrets(probe.conn(), &secrets, 0);
    for (int i = 0; i < n; ++i) {
      const char* usage = virSecretGetUsageID(secrets[i]);
      if (usage && std::string(usage).rfind("/volcrypt/", 0) == 0) virSecretUndefine(secrets[i]);
      virSecretFree(secrets[i]);
    }
    free(secrets);
  }

  std::string Vol(const std::string& name) const { return tmp_.File(name); }
  Outcome Create(const Operator& op, const std::string& id) const {
    return op.Run({"volume", "create", "--path", Vol(id), "--size", kSize, "--id", id});
  }
  std::vector<std::string> Connect() const { return {"--connect", LibvirtTestbed::uri()}; }
  std::vector<std::string> With(std::vector<std::string> args) const {
    for (const std::string& a : Connect()) args.push_back(a);
    return args;
  }
  EndState End(const Operator& op) const {
    EndState e;
    e.op = &op;
    e.keys_dir = tmp_.File("state/keys");
    e.libvirt_uri = LibvirtTestbed::uri();
    return e;
  }
  // A raw disk for `path` on `target`, as an admin adds one with virsh.
  static std::string RawDiskXml(const std::string& path, const std::string& target) {
    return "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
           "<source file='" + path + "'/><target dev='" + target + "' bus='scsi'/></disk>";
  }
  static bool AddDisk(LibvirtProbe& probe, const std::string& domain, const std::string& xml,
                      unsigned flags) {
    virDomainPtr d = virDomainLookupByName(probe.conn(), domain.c_str());
    if (d == nullptr) return false;
    const int rc = virDomainAttachDeviceFlags(d, xml.c_str(), flags);
    virDomainFree(d);
    return rc == 0;
  }

  TempDir tmp_;
  Operator op_;
};

// --- Class 2: the recorded attach mode instead of the domain's real state --

TEST_F(LibvirtAdversary, DetachAfterTheDomainWasStartedBehindOurBackRemovesTheDiskEverywhere) {
  LibvirtProbe probe;
  probe.DefineDomain(kX, /*start=*/false);
  ASSERT_EQ(Create(op_, "cfg").exit_code, 0);
  const Outcome attached = op_.Run(With({"attach", "cfg", "--domain", kX, "--config"}));
  ASSERT_EQ(attached.exit_code, 0) << attached.err;
  probe.StartPaused(kX);  // behind volcrypt's back: the disk is live now too
  ASSERT_NE(probe.DomainXml(kX, false).find(Vol("cfg")), std::string::npos);
  const Outcome detached = op_.Run(With({"detach", "cfg"}));
  EXPECT_EQ(detached.exit_code, 0) << detached.err;
  const bool live = probe.DomainXml(kX, false).find(Vol("cfg")) != std::string::npos;
  EXPECT_FALSE(live) << "detach said done but the disk is still in the RUNNING domain: "
                        "detach must read the live and the persistent XML";
  EXPECT_EQ(probe.DomainXml(kX, true).find(Vol("cfg")), std::string::npos)
      << "the disk is still in the persistent domain";
  if (live) {
    // The volume looks available while QEMU holds it: delete must refuse.
    const Outcome del = op_.Run(With({"volume", "delete", "cfg"}));
    EXPECT_EQ(del.exit_code, 1) << "delete unlinked a file and its key while QEMU holds it";
    EXPECT_EQ(access(Vol("cfg").c_str(), F_OK), 0) << "the in-use file was deleted";
  }
  ExpectEndState(End(op_));
}

TEST_F(LibvirtAdversary, DeleteIsRefusedWhileADomainUsesTheVolume) {
  LibvirtProbe probe;
  probe.DefineDomain(kX, /*start=*/true);
  probe.DefineDomain(kY, /*start=*/false);
  ASSERT_EQ(Create(op_, "running").exit_code, 0);
  ASSERT_EQ(Create(op_, "defined").exit_code, 0);
  // Added by an admin, not through volcrypt: only libvirt knows.
  ASSERT_TRUE(AddDisk(probe, kX, RawDiskXml(Vol("running"), "sdc"), VIR_DOMAIN_AFFECT_LIVE))
      << virGetLastErrorMessage();
  ASSERT_TRUE(AddDisk(probe, kY, RawDiskXml(Vol("defined"), "sdc"), VIR_DOMAIN_AFFECT_CONFIG))
      << virGetLastErrorMessage();
  for (const std::string id : {"running", "defined"}) {
    SCOPED_TRACE(id);
    const Outcome del = op_.Run(With({"volume", "delete", id}));
    EXPECT_EQ(del.exit_code, 1) << "volume delete must be refused while a " << id
                                << " domain references the volume's file";
    EXPECT_EQ(access(Vol(id).c_str(), F_OK), 0) << "the file a domain uses was deleted";
    EXPECT_EQ(op_.Run({"volume", "verify", id}).exit_code, 0)
        << "the volume a domain uses no longer verifies (key deleted?)";
  }
}

// --- Class 3: shared secrets racing ---------------------------------------

// libvirt's secret events, to catch the attach of b right after it set its
// secret's value: its strace is then SIGSTOPped, which freezes the attach
// before it adds its disk (every write of the attach is delayed 20 ms by
// strace, so the event always arrives inside that window).
std::atomic<pid_t> g_freeze_pid{0};
std::atomic<bool> g_frozen{false};

void FreezeOnValueChanged(virConnectPtr, virSecretPtr, void*) {
  const pid_t pid = g_freeze_pid.load();
  if (pid > 0 && !g_frozen.exchange(true)) kill(pid, SIGSTOP);
}

class SecretEvents {
 public:
  SecretEvents() {
    static const bool registered = virEventRegisterDefaultImpl() == 0;
    (void)registered;
    // Wakes the loop every 50 ms so that it can be stopped.
    timer_ = virEventAddTimeout(50, [](int, void*) {}, nullptr, nullptr);
    conn_ = virConnectOpen(LibvirtTestbed::uri().c_str());
    if (conn_ != nullptr) {
      callback_ = virConnectSecretEventRegisterAny(
          conn_, nullptr, VIR_SECRET_EVENT_ID_VALUE_CHANGED,
          VIR_SECRET_EVENT_CALLBACK(FreezeOnValueChanged), nullptr, nullptr);
    }
    loop_ = std::thread([this] {
      while (!done_) virEventRunDefaultImpl();
    });
  }
  ~SecretEvents() {
    done_ = true;
    loop_.join();
    if (callback_ >= 0) virConnectSecretEventDeregisterAny(conn_, callback_);
    if (conn_ != nullptr) virConnectClose(conn_);
    if (timer_ >= 0) virEventRemoveTimeout(timer_);
  }
  bool ok() const { return conn_ != nullptr && callback_ >= 0; }

 private:
  virConnectPtr conn_ = nullptr;
  int callback_ = -1;
  int timer_ = -1;
  std::atomic<bool> done_{false};
  std::thread loop_;
};

// Two volumes on castellan's fixed key: a detach of a from X runs while an
// attach of b to Y's persistent config is between its secret and its disk.
// Y must then start (its secret exists).
TEST_F(LibvirtAdversary, DetachAndAttachOnTheFixedKeyRaceWithoutLosingTheSecret) {
  const std::string fixed = tmp_.File("fixed.hex");
  {
    std::ofstream out(fixed);
    out << std::string(64, '7') << "\n";
  }
  chmod(fixed.c_str(), 0600);
  const Operator on_fixed({"--state-dir", tmp_.File("state"), "--fixed-key-file", fixed});
  ASSERT_EQ(Create(on_fixed, "a").exit_code, 0);
  ASSERT_EQ(Create(on_fixed, "b").exit_code, 0);
  LibvirtProbe probe;
  probe.DefineDomain(kX, /*start=*/true);
  probe.DefineDomain(kY, /*start=*/false);
  const Outcome a_on = on_fixed.Run(With({"attach", "a", "--domain", kX}));
  ASSERT_EQ(a_on.exit_code, 0) << a_on.err;

  SecretEvents events;
  ASSERT_TRUE(events.ok()) << virGetLastErrorMessage();
  const std::vector<std::string> argv =
        UnderStrace({"--inject=write,writev,sendmsg:delay_enter=20000"},
                    on_fixed.Argv(With({"attach", "b", "--domain", kY, "--config"})));
  g_frozen = false;
  Background attach(argv);
  g_freeze_pid = attach.pid();
  for (int i = 0; i < 3000 && !g_frozen; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  g_freeze_pid = 0;
  const bool froze = g_frozen;
  // b's attach is frozen between its secret and its disk: a detaches now.
  const Outcome d = on_fixed.Run(With({"detach", "a"}), 60);
  kill(attach.pid(), SIGCONT);
  const Outcome b_on = attach.Wait(120);
  ASSERT_TRUE(froze) << "b's attach never set a secret value";
  EXPECT_EQ(d.exit_code, 0) << d.err;
  ASSERT_EQ(b_on.exit_code, 0) << b_on.err;

  virDomainPtr y = virDomainLookupByName(probe.conn(), kY);
  ASSERT_NE(y, nullptr);
  const int started = virDomainCreateWithFlags(y, VIR_DOMAIN_START_PAUSED);
  const std::string why = started == 0 ? "" : virGetLastErrorMessage();
  if (started == 0) virDomainDestroy(y);
  virDomainFree(y);
  EXPECT_EQ(started, 0) << "Y's persistent domain does not start after the race: " << why
                        << " (the detach of a removed the secret b's disk needs; no two "
                           "volumes may share a libvirt secret)";
  ExpectEndState(End(on_fixed));
}

// --- Class 5: rolled back without being able to roll back ------------------

TEST_F(LibvirtAdversary, LibvirtdKilledMidAttachLeavesNothingReconcileCannotExplain) {
  for (const std::string id : {"k0", "k1", "k2"}) ASSERT_EQ(Create(op_, id).exit_code, 0);
  {
    LibvirtProbe probe;
    probe.DefineDomain(kX, /*start=*/true);
  }
  std::atomic<bool> stop{false};
  std::vector<Outcome> outcomes;
  std::thread loop([&] {
    for (int i = 0; i < 200 && !stop; ++i) {
      const std::string id = "k" + std::to_string(i % 3);
      outcomes.push_back(op_.Run(With({"attach", id, "--domain", kX, "--target",
                                       "sd" + std::string(1, static_cast<char>('b' + i % 3))}),
                                 60));
      if (i % 2 == 1) outcomes.push_back(op_.Run(With({"detach", id}), 60));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const pid_t daemon = static_cast<pid_t>(
      std::atoi(FileContent(kLibvirt->dir() + "/libvirtd.pid").c_str()));
  ASSERT_GT(daemon, 0);
  kill(daemon, SIGKILL);  // mid-attach (the loop never pauses)
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  loop.join();
  // With libvirtd gone, a command that needs it fails cleanly.
  const Outcome down = op_.Run(With({"attach", "k0", "--domain", kX}), 60);
  outcomes.push_back(down);
  ASSERT_TRUE(kLibvirt->Restart());
  for (const Outcome& o : outcomes) {
    EXPECT_TRUE(o.exit_code == 0 || o.exit_code == 1)
        << "a CLI whose libvirt connection dropped exited " << o.exit_code
        << (o.exit_code == 141 ? " (SIGPIPE)" : "") << ": " << o.err;
    if (o.exit_code == 1) {
      EXPECT_TRUE(IsOneShortLine(o.err)) << o.err;
    }
  }
  const Outcome rec = op_.Run(With({"reconcile", "--grace", "0"}));
  EXPECT_EQ(rec.exit_code, 0) << rec.err;
  ExpectEndState(End(op_));
}

// The connection drops under a running command: libvirtd is SIGKILLed while
// a detach is slowed (strace holds each of its writes 0.3 s), so its next
// write meets a closed socket. It must fail with exit 1 and one line, not
// die of SIGPIPE (141) with nothing said.
TEST_F(LibvirtAdversary, ACliWhoseLibvirtConnectionDropsExitsOneWithAMessage) {
  ASSERT_EQ(Create(op_, "drop").exit_code, 0);
  {
    LibvirtProbe probe;
    probe.DefineDomain(kX, /*start=*/true);
  }
  ASSERT_EQ(op_.Run(With({"attach", "drop", "--domain", kX})).exit_code, 0);
  const std::vector<std::string> argv =
        UnderStrace({"--inject=write,writev,sendmsg:delay_enter=300000"},
                    op_.Argv(With({"detach", "drop"})));
  Background detach(argv);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const pid_t daemon = static_cast<pid_t>(
      std::atoi(FileContent(kLibvirt->dir() + "/libvirtd.pid").c_str()));
  ASSERT_GT(daemon, 0);
  kill(daemon, SIGKILL);
  const Outcome d = detach.Wait(120);
  ASSERT_TRUE(kLibvirt->Restart());
  EXPECT_EQ(d.exit_code, 1) << "a CLI whose libvirt connection dropped exited " << d.exit_code
                            << (d.exit_code == 141 ? " (killed by SIGPIPE)" : "")
                            << "; stderr: " << d.err;
  EXPECT_TRUE(IsOneShortLine(d.err)) << "stderr: '" << d.err << "'";
  const Outcome rec = op_.Run(With({"reconcile", "--grace", "0"}));
  EXPECT_EQ(rec.exit_code, 0) << rec.err;
  ExpectEndState(End(op_));
}

}  // namespace
}  // namespace testing
}  // namespace volcrypt
