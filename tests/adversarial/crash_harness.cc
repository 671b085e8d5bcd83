#include "tests/adversarial/crash_harness.h"

#include <libvirt/libvirt.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "tests/ceph/ceph_testbed.h"
#include "tests/libvirt/libvirt_testbed.h"
#include "volcrypt/volume_store.h"

namespace volcrypt {
namespace testing {

const char kCephSecretUuid[] = "c3c3c3c3-0000-4000-8000-0000000000c5";

namespace {

::testing::Environment* const kCeph = ::testing::AddGlobalTestEnvironment(new CephTestbed);
::testing::Environment* const kLibvirt =
    ::testing::AddGlobalTestEnvironment(new LibvirtTestbed);

// Beside this test program in the build tree.
std::string ChildPath() {
  char self[4096] = {};
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  std::string dir = n > 0 ? std::string(self, n) : std::string();
  return dir.substr(0, dir.rfind('/')) + "/adversarial_crash_child";
}

// The cephx key of client.admin in libvirt's secret of usage 'ceph', put
// there as a deployment would: by the real CLI's `ceph-secret define`, then
// `check` (every crash scene's QEMU opens through it).
void DefineCephSecret() {
  const Operator op({"--ceph-conf", CephTestbed::conf(), "--libvirt-ceph-secret",
                     kCephSecretUuid});
  for (const char* verb : {"define", "check"}) {
    const Outcome r = op.Run({"ceph-secret", verb, "--connect", LibvirtTestbed::uri()});
    ASSERT_EQ(r.exit_code, 0) << verb << ": " << r.err;
    EXPECT_EQ(ParseJson(r.out).value("uuid", ""), kCephSecretUuid) << r.out;
  }
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  for (absl::string_view l : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    lines.emplace_back(l);
  }
  return lines;
}

}  // namespace

Scene::Scene(const std::string& dir, bool ceph) : dir_(dir), ceph_(ceph) {
  mkdir(dir.c_str(), 0700);
  std::vector<std::string> globals = {"--state-dir", dir, "--host", kCrashHost};
  if (ceph) {
    for (const std::string& g : {std::string("--ceph-conf"), CephTestbed::conf(),
                                 std::string("--libvirt-ceph-secret"),
                                 std::string(kCephSecretUuid)}) {
      globals.push_back(g);
    }
  }
  op_ = std::make_unique<Operator>(globals);
}

Outcome Scene::Child(int kill_at, const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {ChildPath(), "--state", dir_, "--host", kCrashHost,
                                   "--connect", LibvirtTestbed::uri(),
                                   "--kill-at", std::to_string(kill_at)};
  if (ceph_) {
    for (const std::string& a : {std::string("--ceph-conf"), CephTestbed::conf(),
                                 std::string("--ceph-secret"), std::string(kCephSecretUuid)}) {
      argv.push_back(a);
    }
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return RunBounded(argv, 120);
}

void Scene::MustRun(const std::vector<std::string>& args) const {
  const Outcome o = Child(0, args);
  ASSERT_EQ(o.exit_code, 0) << args[0] << ": " << o.err;
}

void Scene::Reconcile() const {
  const Outcome r =
      op_->Run({"reconcile", "--grace", "0", "--connect", LibvirtTestbed::uri()});
  EXPECT_EQ(r.exit_code, 0) << "reconcile: " << r.err;
}

EndState Scene::End() const {
  EndState e;
  e.op = op_.get();
  e.keys_dir = dir_ + "/keys";
  e.libvirt_uri = LibvirtTestbed::uri();
  return e;
}

std::map<std::string, nlohmann::json> Scene::Records() const {
  std::map<std::string, nlohmann::json> by_id;
  for (const nlohmann::json& r : ListRecords(*op_)) by_id[r.value("id", "")] = r;
  return by_id;
}

std::vector<std::string> Scene::SnapshotRecords(const std::string& volume) const {
  std::vector<std::string> ids;
  auto store = OpenSqliteVolumeStore(dir_ + "/volumes.db");
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return ids;
  auto snaps = (*store)->ListSnapshots(volume);
  EXPECT_TRUE(snaps.ok()) << snaps.status();
  if (snaps.ok()) {
    for (const SnapshotRecord& s : *snaps) ids.push_back(s.id);
  }
  return ids;
}

std::vector<std::string> ImagesWithPrefix(const std::string& prefix) {
  const CommandResult ls = RunCommand({"rbd", "-c", CephTestbed::conf(), "ls", kPool});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  std::vector<std::string> found;
  for (const std::string& image : Lines(ls.out)) {
    if (image.rfind(prefix, 0) == 0) found.push_back(image);
  }
  return found;
}

std::vector<std::string> SnapshotsOf(const std::string& image) {
  const CommandResult ls = RunCommand(
      {"rbd", "-c", CephTestbed::conf(), "snap", "ls", "--format", "json", kPool + std::string("/") + image});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  std::vector<std::string> names;
  const nlohmann::json j = ParseJson(ls.out);
  if (!j.is_array()) return names;
  for (const nlohmann::json& s : j) names.push_back(s.value("name", ""));
  return names;
}

void CrashTest::SetUp() {
  if (CephTestbed::conf().empty()) GTEST_SKIP() << CephTestbed::skip_reason();
  if (LibvirtTestbed::uri().empty()) GTEST_SKIP() << LibvirtTestbed::skip_reason();
  DefineCephSecret();
}

void CrashTest::TearDown() {
  if (LibvirtTestbed::uri().empty()) return;
  LibvirtProbe probe;
  if (probe.conn() == nullptr) return;
  for (const char* d : {"crash-x", "crash-y"}) probe.DestroyAndUndefine(d);
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

std::vector<std::string> CrashTest::KillAtEveryStep(
    const std::string& name,
    const std::function<void(const Scene&, const std::string&)>& setup,
    const std::function<std::vector<std::string>(const std::string&)>& flow,
    const std::function<void(const Scene&, const std::string&)>& check,
    const std::function<void(const Scene&)>& recover) {
  std::vector<std::string> steps;
  {
    const std::string tag = name + "-t";
    Scene scene(tmp_.File(tag), ceph_);
    setup(scene, tag);
    const Outcome undisturbed = scene.Child(0, flow(tag));
    EXPECT_EQ(undisturbed.exit_code, 0) << name << " undisturbed: " << undisturbed.err;
    steps = Lines(undisturbed.out);
    SCOPED_TRACE(name + ", undisturbed");
    ExpectEndState(scene.End());
    check(scene, tag);
  }
  EXPECT_GE(steps.size(), 2u) << name << ": no steps traced";
  std::string listed;
  for (const std::string& s : steps) listed += " " + s;
  std::printf("%s: %zu steps:%s\n", name.c_str(), steps.size(), listed.c_str());
  for (size_t k = first_step_; k <= steps.size(); ++k) {
    const std::string tag = name + "-" + std::to_string(k);
    SCOPED_TRACE(name + ", SIGKILL before step " + std::to_string(k) + " (" + steps[k - 1] +
                 ")");
    Scene scene(tmp_.File(tag), ceph_);
    setup(scene, tag);
    if (::testing::Test::HasFatalFailure()) return steps;
    const Outcome killed = scene.Child(static_cast<int>(k), flow(tag));
    EXPECT_EQ(killed.exit_code, 128 + SIGKILL)
        << "the kill point was not reached: " << killed.err;
    if (recover) {
      recover(scene);
    } else {
      scene.Reconcile();
    }
    ExpectEndState(scene.End());
    check(scene, tag);
  }
  return steps;
}

}  // namespace testing
}  // namespace volcrypt
