// Attach and detach racing on DISTINCT keys (the shared-key race has its own
// test in libvirt_test.cc): four volumes, three mapped and one RBD, each on
// its own key, attached and detached at once, live and persistent, on one
// domain and spread over two, from threads of one VolumeService and from
// separate CLI processes. Every call must succeed, each attached volume must
// have its own secret (the domains restart), and the end state must hold.
#include <libvirt/libvirt.h>

#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "tests/adversarial/crash_harness.h"
#include "tests/ceph/ceph_testbed.h"
#include "tests/libvirt/libvirt_testbed.h"
#include "tests/support/embedded_stack.h"
#include "volcrypt/attacher.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/rbd_backend.h"

namespace volcrypt {
namespace testing {
namespace {

constexpr int kVolumes = 4;
constexpr int kRounds = 2;
const char* const kDomains[] = {"crash-x", "crash-y"};

struct Race {
  const char* name;
  int domains;
  bool processes;
};

const Race kRaces[] = {
    {"threads_one_domain", 1, false},
    {"threads_two_domains", 2, false},
    {"processes_one_domain", 1, true},
    {"processes_two_domains", 2, true},
};

class AttachRace : public CrashTest, public ::testing::WithParamInterface<Race> {
 protected:
  std::string Id(int i) const { return "r" + std::to_string(i); }
  std::string Domain(int i) const { return kDomains[i % GetParam().domains]; }
  std::string Target(int i) const { return std::string("sd") + static_cast<char>('b' + i); }

  // Volume i: rounds of attach (live and persistent) and detach, then, for
  // even i, one more attach. False on the first call that failed.
  bool CliLoop(const Scene& scene, int i, std::string* error) {
    const std::string uri = LibvirtTestbed::uri();
    for (int round = 0; round <= kRounds; ++round) {
      const Outcome a = scene.op().Run({"attach", Id(i), "--domain", Domain(i), "--target",
                                        Target(i), "--live", "--config", "--connect", uri});
      if (a.exit_code != 0) return *error = "attach " + Id(i) + ": " + a.err, false;
      if (round == kRounds && i % 2 == 0) break;
      const Outcome d = scene.op().Run({"detach", Id(i), "--connect", uri});
      if (d.exit_code != 0) return *error = "detach " + Id(i) + ": " + d.err, false;
      if (round == kRounds) break;
    }
    return true;
  }

  bool ServiceLoop(VolumeService& service, int i, std::string* error) {
    AttachTarget t;
    t.domain = Domain(i);
    t.live = true;
    t.config = true;
    AttachPlanOptions o;
    o.target_dev = Target(i);
    for (int round = 0; round <= kRounds; ++round) {
      absl::Status a = service.AttachVolume(Id(i), t, o).status();
      if (!a.ok()) return *error = "attach " + Id(i) + ": " + a.ToString(), false;
      if (round == kRounds && i % 2 == 0) break;
      absl::Status d = service.DetachVolume(Id(i)).status();
      if (!d.ok()) return *error = "detach " + Id(i) + ": " + d.ToString(), false;
      if (round == kRounds) break;
    }
    return true;
  }
};

TEST_P(AttachRace, DistinctKeysAttachAndDetachAtOnceEachKeepingItsOwnSecret) {
  const Race race = GetParam();
  Scene scene(tmp_.File(race.name));
  for (int d = 0; d < race.domains; ++d) {
    LibvirtProbe probe;
    probe.DefineDomain(kDomains[d], /*start=*/true);
  }
  for (int i = 0; i < kVolumes; ++i) {
    if (i == kVolumes - 1) {
      scene.MustRun({"create-rbd", Id(i), kPool, std::string("img-race-") + race.name,
                     "qemu", "luks1"});
    } else {
      scene.MustRun({"create-file", Id(i), scene.dir() + "/" + Id(i) + ".img"});
    }
  }
  std::vector<std::string> errors(kVolumes);
  std::vector<std::thread> threads;
  std::unique_ptr<RbdBackend> rbd;
  std::unique_ptr<Attacher> attacher;
  std::unique_ptr<EmbeddedStack> stack;
  if (!race.processes) {
    RbdBackendOptions ro;
    ro.ceph_conf = CephTestbed::conf();
    ro.libvirt_auth_secret_uuid = kCephSecretUuid;
    rbd = std::move(RbdBackend::Connect(ro).value());
    attacher = std::move(Attacher::Connect(LibvirtTestbed::uri()).value());
    EmbeddedStackOptions o;
    o.dir = scene.dir();
    o.host = kCrashHost;
    o.master_key = ReadMasterKeyFile(scene.dir() + "/master.key").value();
    o.rbd = rbd.get();
    o.attacher = attacher.get();
    stack = std::move(EmbeddedStack::Open(std::move(o)).value());
  }
  for (int i = 0; i < kVolumes; ++i) {
    threads.emplace_back([&, i] {
      if (race.processes) {
        CliLoop(scene, i, &errors[i]);
      } else {
        ServiceLoop(stack->service(), i, &errors[i]);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& e : errors) EXPECT_EQ(e, "");

  ExpectEndState(scene.End());
  const auto records = scene.Records();
  for (int i = 0; i < kVolumes; ++i) {
    ASSERT_EQ(records.count(Id(i)), 1u);
    EXPECT_EQ(records.at(Id(i)).value("status", ""), i % 2 == 0 ? "in-use" : "available")
        << Id(i);
  }
  // One secret per attached volume, none shared; and each domain starts
  // again from its persistent config (no "Secret not found").
  LibvirtProbe probe;
  EXPECT_EQ(probe.SecretCount() - 1, kVolumes / 2)  // less the cephx secret
      << "volcrypt secrets left do not match the attached volumes";
  for (int d = 0; d < race.domains; ++d) {
    EXPECT_EQ(probe.Restart(kDomains[d]), "") << kDomains[d] << " does not start again";
  }
  ExpectEndState(scene.End());
  // Everything detaches once more, leaving no secret of ours.
  for (int i = 0; i < kVolumes; i += 2) {
    const Outcome d = scene.op().Run({"detach", Id(i), "--connect", LibvirtTestbed::uri()});
    EXPECT_EQ(d.exit_code, 0) << d.err;
  }
  EXPECT_EQ(probe.SecretCount(), 1);
  ExpectEndState(scene.End());
}

INSTANTIATE_TEST_SUITE_P(Races, AttachRace, ::testing::ValuesIn(kRaces),
                         [](const ::testing::TestParamInfo<Race>& p) {
                           return std::string(p.param.name);
                         });

}  // namespace
}  // namespace testing
}  // namespace volcrypt
