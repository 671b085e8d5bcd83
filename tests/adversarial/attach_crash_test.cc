// kill -9 at every step of attach and detach against the real libvirtd and
// QEMU, for a mapped file volume and an RBD volume (QEMU's engine), live,
// persistent-only and both: after reconcile, no secret or disk that no
// record explains, the record agrees with the domain's real XML (live and
// persistent), the volume verifies, and it then detaches (or attaches)
// cleanly.
#include <libvirt/libvirt.h>

#include <algorithm>

#include <gtest/gtest.h>

#include "tests/adversarial/crash_harness.h"
#include "tests/libvirt/libvirt_testbed.h"

namespace volcrypt {
namespace testing {
namespace {

constexpr char kDomain[] = "crash-x";

struct Case {
  const char* name;
  bool rbd;
  const char* mode;  // live | config | both
};

// A mapped volume live-only would repeat the live half of file_both.
const Case kCases[] = {
    {"file_config", false, "config"},
    {"file_both", false, "both"},
    {"rbd_live", true, "live"},
};

std::vector<std::string> CreateArgs(const Case& c, const Scene& scene, const std::string& tag) {
  if (c.rbd) return {"create-rbd", "v", kPool, "img-" + tag + "-v", "qemu", "luks1"};
  return {"create-file", "v", scene.dir() + "/v.img"};
}

std::string Source(const Case& c, const Scene& scene, const std::string& tag) {
  return c.rbd ? std::string(kPool) + "/img-" + tag + "-v" : scene.dir() + "/v.img";
}

// The domain (running for live and both, defined only for config). Kept
// from one step's scene to the next (each ends with the disk detached):
// starting a QEMU per step would cost seconds each.
void FreshDomain(const Case& c) {
  LibvirtProbe probe;
  const bool start = std::string(c.mode) != "config";
  virDomainPtr d = virDomainLookupByName(probe.conn(), kDomain);
  if (d != nullptr) {
    const bool running = virDomainIsActive(d) == 1;
    virDomainFree(d);
    if (running == start) return;
  }
  probe.DefineDomain(kDomain, start);
}

bool InDomain(const std::string& source, bool inactive) {
  LibvirtProbe probe;
  virDomainPtr d = virDomainLookupByName(probe.conn(), kDomain);
  if (d == nullptr) return false;
  const bool running = virDomainIsActive(d) == 1;
  virDomainFree(d);
  if (!inactive && !running) return false;
  return probe.DomainXml(kDomain, inactive).find(source) != std::string::npos;
}

// (After the end state:) the record and the domain's XML agree; then the
// volume leaves the domain through the CLI, which must work, and is gone
// from both XMLs.
void CheckAgreesThenDetach(const Case& c, const Scene& scene, const std::string& tag) {
  const std::string source = Source(c, scene, tag);
  const auto records = scene.Records();
  ASSERT_EQ(records.size(), 1u);
  const std::string status = records.begin()->second.value("status", "");
  const bool live = InDomain(source, false), persistent = InDomain(source, true);
  if (status == "in-use") {
    EXPECT_TRUE(std::string(c.mode) == "config" ? persistent : live)
        << "in-use, but the domain has no disk " << source;
    const Outcome d = scene.op().Run({"detach", "v", "--connect", LibvirtTestbed::uri()});
    EXPECT_EQ(d.exit_code, 0) << d.err;
  } else {
    EXPECT_EQ(status, "available");
    EXPECT_FALSE(live || persistent) << "available, but the domain still has " << source;
  }
  EXPECT_FALSE(InDomain(source, false) || InDomain(source, true))
      << "the disk " << source << " stays in the domain after detach";
}

std::vector<std::string> AttachArgs(const Case& c) {
  return {"attach", "v", kDomain, "sdb", c.mode};
}

class AttachCrash : public CrashTest, public ::testing::WithParamInterface<Case> {};

TEST_P(AttachCrash, KillAtEveryStepOfAttachIsUndoneOrKeptAsLibvirtHasIt) {
  const Case c = GetParam();
  ceph_ = c.rbd;
  const std::vector<std::string> steps = KillAtEveryStep(
      std::string("attach-") + c.name,
      [&](const Scene& scene, const std::string& tag) {
        FreshDomain(c);
        scene.MustRun(CreateArgs(c, scene, tag));
      },
      [&](const std::string&) { return AttachArgs(c); },
      [&](const Scene& scene, const std::string& tag) { CheckAgreesThenDetach(c, scene, tag); });
  EXPECT_NE(std::find(steps.begin(), steps.end(), "attacher.AttachDisk"), steps.end());
}

TEST_P(AttachCrash, KillAtEveryStepOfDetachIsFinishedByReconcile) {
  const Case c = GetParam();
  ceph_ = c.rbd;
  const std::vector<std::string> steps = KillAtEveryStep(
      std::string("detach-") + c.name,
      [&](const Scene& scene, const std::string& tag) {
        FreshDomain(c);
        scene.MustRun(CreateArgs(c, scene, tag));
        scene.MustRun(AttachArgs(c));
      },
      [](const std::string&) { return std::vector<std::string>{"detach", "v"}; },
      [&](const Scene& scene, const std::string& tag) { CheckAgreesThenDetach(c, scene, tag); });
  EXPECT_NE(std::find(steps.begin(), steps.end(), "attacher.DetachDisk"), steps.end());
}

INSTANTIATE_TEST_SUITE_P(Volumes, AttachCrash, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& p) {
                           return std::string(p.param.name);
                         });

}  // namespace
}  // namespace testing
}  // namespace volcrypt
