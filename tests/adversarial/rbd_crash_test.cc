// kill -9 at every step of create, delete, extend, snapshot and clone of RBD
// volumes, on a real Ceph cluster, for both engines (QEMU's LUKS1; librbd's
// LUKS1 and LUKS2 with volcrypt's header, and librbd's own LUKS1 format),
// each followed by `reconcile` and the end state: every record's volume
// verifies, no key without a record, no image without a record, and the
// flow can then run again on the same names.
#include <signal.h>

#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "tests/adversarial/crash_harness.h"

namespace volcrypt {
namespace testing {
namespace {

struct Engine {
  const char* name;
  std::vector<std::string> args;  // engine, format[, native]
};

const Engine kEngines[] = {
    {"qemu1", {"qemu", "luks1"}},
    {"librbd1", {"librbd", "luks1"}},
    {"librbd2", {"librbd", "luks2"}},
};

std::vector<std::string> CreateArgs(const std::string& id, const std::string& image,
                                    const std::vector<std::string>& engine) {
  std::vector<std::string> a = {"create-rbd", id, kPool, image};
  a.insert(a.end(), engine.begin(), engine.end());
  return a;
}

// An image is there exactly when a record names it.
void ExpectImagesExplained(const Scene& scene, const std::string& tag) {
  std::set<std::string> named;
  for (const auto& [id, r] : scene.Records()) {
    named.insert(r["location"].value("image", ""));
  }
  const std::vector<std::string> listed = ImagesWithPrefix("img-" + tag + "-");
  const std::set<std::string> in_ceph(listed.begin(), listed.end());
  for (const std::string& image : in_ceph) {
    EXPECT_TRUE(named.count(image)) << "image " << image << " is left with no record";
  }
  for (const std::string& image : named) {
    EXPECT_TRUE(in_ceph.count(image)) << "record's image " << image << " is gone";
  }
}

class RbdCrash : public CrashTest, public ::testing::WithParamInterface<Engine> {};
// Delete and extend do not depend on the header's format beyond its payload
// offset (LUKS1 4 MiB, LUKS2 16 MiB): one engine per offset.
class RbdChangeCrash : public RbdCrash {};

TEST_P(RbdCrash, KillAtEveryStepOfCreateIsUndoneByReconcileAndTheNameIsFreeAgain) {
  const Engine e = GetParam();
  const std::vector<std::string> steps = KillAtEveryStep(
      std::string("create-") + e.name, [](const Scene&, const std::string&) {},
      [&](const std::string& tag) { return CreateArgs("v", "img-" + tag + "-v", e.args); },
      [&](const Scene& scene, const std::string& tag) {
        ExpectImagesExplained(scene, tag);
        if (!tag.empty() && tag.back() == 't') return;  // the undisturbed run
        // Killed before any step, the create is undone altogether...
        EXPECT_TRUE(scene.Records().empty());
        EXPECT_TRUE(ImagesWithPrefix("img-" + tag + "-").empty());
        // ... and, killed before its last (with everything made but the
        // 'available'), the same id and image can be created again.
        if (tag.back() != '7') return;
        scene.MustRun(CreateArgs("v", "img-" + tag + "-v", e.args));
        EXPECT_EQ(scene.op().Run({"volume", "verify", "v"}).exit_code, 0);
      });
  ASSERT_EQ(steps.size(), 7u);  // the re-create above runs after step 7
  EXPECT_EQ(steps[5], "rbd.WriteLuksHeader");
}

TEST_P(RbdChangeCrash, KillAtEveryStepOfDeleteIsFinishedByReconcile) {
  const Engine e = GetParam();
  KillAtEveryStep(
      std::string("delete-") + e.name,
      [&](const Scene& scene, const std::string& tag) {
        scene.MustRun(CreateArgs("v", "img-" + tag + "-v", e.args));
      },
      [](const std::string&) { return std::vector<std::string>{"delete", "v"}; },
      [&](const Scene& scene, const std::string& tag) {
        ExpectImagesExplained(scene, tag);
        // Killed before it marked 'deleting', the volume is whole; after
        // that, reconcile finished the delete.
        const auto records = scene.Records();
        if (!records.empty()) {
          EXPECT_EQ(records.begin()->second.value("status", ""), "available");
          const Outcome again = scene.op().Run({"volume", "delete", "v"});
          EXPECT_EQ(again.exit_code, 0) << again.err;
        }
        EXPECT_TRUE(ImagesWithPrefix("img-" + tag + "-").empty());
      });
}

TEST_P(RbdChangeCrash, KillAtEveryStepOfExtendLeavesTheOldOrTheNewSize) {
  const Engine e = GetParam();
  constexpr uint64_t kOld = 16 << 20, kNew = 24 << 20;
  const std::vector<std::string> steps = KillAtEveryStep(
      std::string("extend-") + e.name,
      [&](const Scene& scene, const std::string& tag) {
        scene.MustRun(CreateArgs("v", "img-" + tag + "-v", e.args));
      },
      [](const std::string&) {
        return std::vector<std::string>{"extend", "v", std::to_string(kNew)};
      },
      [&](const Scene& scene, const std::string& tag) {
        ExpectImagesExplained(scene, tag);
        const auto records = scene.Records();
        ASSERT_EQ(records.size(), 1u);
        const nlohmann::json& v = records.begin()->second;
        EXPECT_EQ(v.value("status", ""), "available");
        const uint64_t size = v.value("size_bytes", uint64_t{0});
        EXPECT_TRUE(size == kOld || size == kNew) << size;
        const Outcome again = scene.op().Run({"volume", "extend", "v", "32M"});
        EXPECT_EQ(again.exit_code, 0) << again.err;
      });
  EXPECT_NE(std::find(steps.begin(), steps.end(), "rbd.Resize"), steps.end());
}

std::string EngineName(const ::testing::TestParamInfo<Engine>& p) {
  return std::string(p.param.name);
}
INSTANTIATE_TEST_SUITE_P(Engines, RbdCrash, ::testing::ValuesIn(kEngines), EngineName);
INSTANTIATE_TEST_SUITE_P(Engines, RbdChangeCrash,
                         ::testing::Values(kEngines[0], kEngines[2]), EngineName);

// librbd's own format is a step of its own (rbd_encryption_format, seconds
// of librbd's KDF): killed before or after it, the create is undone. The
// steps before it are librbd1's create above, killed there.
TEST_F(CrashTest, KillAtEveryStepOfALibrbdNativeCreateIsUndoneByReconcile) {
  const std::vector<std::string> native = {"librbd", "luks1", "native"};
  first_step_ = 6;  // rbd.FormatNative, then the last store.UpdateVolume
  const std::vector<std::string> steps = KillAtEveryStep(
      "native", [](const Scene&, const std::string&) {},
      [&](const std::string& tag) { return CreateArgs("v", "img-" + tag + "-v", native); },
      [&](const Scene& scene, const std::string& tag) {
        ExpectImagesExplained(scene, tag);
        if (tag.back() != 't') {
          EXPECT_TRUE(scene.Records().empty());
        }
      });
  ASSERT_EQ(steps.size(), 7u);
  EXPECT_EQ(steps[5], "rbd.FormatNative");
}

// A snapshot: its record, then the image's snapshot. Killed between them,
// no record may claim a snapshot Ceph does not have once reconcile ran.
TEST_F(CrashTest, KillAtEveryStepOfASnapshotLeavesNoRecordWithoutItsSnapshot) {
  KillAtEveryStep(
      "snap",
      [](const Scene& scene, const std::string& tag) {
        scene.MustRun(CreateArgs("v", "img-" + tag + "-v", {"qemu", "luks1"}));
      },
      [](const std::string&) { return std::vector<std::string>{"snapshot", "v", "s1"}; },
      [](const Scene& scene, const std::string& tag) {
        ExpectImagesExplained(scene, tag);
        const std::vector<std::string> in_ceph = SnapshotsOf("img-" + tag + "-v");
        const std::vector<std::string> recorded_ids = scene.SnapshotRecords("v");
        const bool recorded = !recorded_ids.empty();
        const bool taken =
            std::find(in_ceph.begin(), in_ceph.end(), "snapshot-s1") != in_ceph.end();
        EXPECT_EQ(recorded, taken) << "a snapshot record without its snapshot in Ceph, or "
                                      "the reverse";
        // Whatever is left, the volume can be cleaned up for good.
        if (recorded) {
          EXPECT_EQ(scene.op().Run({"volume", "snapshot-delete", "s1"}).exit_code, 0);
        }
        const Outcome del = scene.op().Run({"volume", "delete", "v"});
        EXPECT_EQ(del.exit_code, 0) << del.err;
      });
}

// The snapshot rule keeps the grace: a record younger than it may be a
// snapshot being taken right now, and stays.
TEST_F(CrashTest, ReconcileLeavesARecentSnapshotRecordToItsRunningSnapshot) {
  Scene scene(tmp_.File("snapgrace"));
  scene.MustRun(CreateArgs("v", "img-snapgrace-v", {"qemu", "luks1"}));
  ASSERT_EQ(scene.Child(2, {"snapshot", "v", "s1"}).exit_code, 128 + SIGKILL);
  Outcome r = scene.op().Run({"reconcile", "--grace", "3600"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(scene.SnapshotRecords("v").size(), 1u) << "a recent record was removed";
  r = scene.op().Run({"reconcile", "--grace", "0"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(scene.SnapshotRecords("v").empty()) << "a stale record was kept";
  EXPECT_EQ(scene.op().Run({"volume", "delete", "v"}).exit_code, 0);
}

// A snapshot's delete: the image's snapshot, then its record. Killed
// between them, reconcile drops the record of the snapshot Ceph no longer has.
TEST_F(CrashTest, KillAtEveryStepOfASnapshotDeleteLeavesNoRecordWithoutItsSnapshot) {
  KillAtEveryStep(
      "snapdel",
      [](const Scene& scene, const std::string& tag) {
        scene.MustRun(CreateArgs("v", "img-" + tag + "-v", {"qemu", "luks1"}));
        scene.MustRun({"snapshot", "v", "s1"});
      },
      [](const std::string&) { return std::vector<std::string>{"snapshot-delete", "s1"}; },
      [](const Scene& scene, const std::string& tag) {
        const std::vector<std::string> in_ceph = SnapshotsOf("img-" + tag + "-v");
        EXPECT_EQ(scene.SnapshotRecords("v").empty(), in_ceph.empty())
            << "a snapshot record without its snapshot in Ceph, or the reverse";
        if (!in_ceph.empty()) {
          EXPECT_EQ(scene.op().Run({"volume", "snapshot-delete", "s1"}).exit_code, 0);
        }
        const Outcome del = scene.op().Run({"volume", "delete", "v"});
        EXPECT_EQ(del.exit_code, 0) << del.err;
      });
}

// A clone: its record, the parent's key bytes under a new key id, then
// librbd's clone of the protected snapshot. Killed at any step, reconcile
// undoes it, and the parent's snapshot and the parent can then be deleted
// (no clone left depending on them).
TEST_F(CrashTest, KillAtEveryStepOfACloneIsUndoneAndLeavesTheParentDeletable) {
  KillAtEveryStep(
      "clone",
      [](const Scene& scene, const std::string& tag) {
        scene.MustRun(CreateArgs("p", "img-" + tag + "-p", {"qemu", "luks1"}));
        scene.MustRun({"snapshot", "p", "s1"});
      },
      [](const std::string& tag) {
        return std::vector<std::string>{"clone", "s1", "c", kPool, "img-" + tag + "-c"};
      },
      [](const Scene& scene, const std::string& tag) {
        ExpectImagesExplained(scene, tag);
        if (tag.back() != 't') {
          EXPECT_EQ(scene.Records().count("c"), 0u) << "the interrupted clone survived";
        } else {
          EXPECT_EQ(scene.op().Run({"volume", "delete", "c"}).exit_code, 0);
        }
        const Outcome snap = scene.op().Run({"volume", "snapshot-delete", "s1"});
        EXPECT_EQ(snap.exit_code, 0) << snap.err;
        const Outcome del = scene.op().Run({"volume", "delete", "p"});
        EXPECT_EQ(del.exit_code, 0) << del.err;
        EXPECT_TRUE(ImagesWithPrefix("img-" + tag + "-").empty());
      });
}

// Offline conversion of an RBD volume to a new key, QEMU's LUKS1 to librbd's
// LUKS2 (lib/volumes/conversion.h), killed at every step: after reconcile
// the volume is either on its old image with its old key or on the new one
// with its new key; the other image and key are gone (no image without a
// record, no key file without one), no conversion row is left, and the
// volume converts again.
TEST_F(CrashTest, KillAtEveryStepOfAnRbdConversionLeavesTheOldOrTheNewVolume) {
  std::string key_before;
  const std::vector<std::string> steps = KillAtEveryStep(
      "convert",
      [&](const Scene& scene, const std::string& tag) {
        scene.MustRun(CreateArgs("v", "img-" + tag + "-v", {"qemu", "luks1"}));
        key_before = scene.Records()["v"].value("encryption_key_id", "");
      },
      [](const std::string& tag) {
        return std::vector<std::string>{"convert-rbd", "v", kPool, "img-" + tag + "-w",
                                        "librbd", "luks2"};
      },
      [&](const Scene& scene, const std::string& tag) {
        ExpectImagesExplained(scene, tag);
        const auto records = scene.Records();
        ASSERT_EQ(records.size(), 1u);
        const nlohmann::json& v = records.begin()->second;
        EXPECT_EQ(v.value("status", ""), "available");
        const std::string image = v["location"].value("image", "");
        const bool is_new = image == "img-" + tag + "-w";
        EXPECT_TRUE(is_new || image == "img-" + tag + "-v") << image;
        EXPECT_EQ(is_new, v.value("encryption_key_id", "") != key_before);
        EXPECT_EQ(v["encryption"].value("engine", ""), is_new ? "librbd" : "qemu");
        EXPECT_TRUE(is_new || tag.back() != 't') << "the undisturbed run did not convert";
        const Outcome again = scene.op().Run(
            {"volume", "reencrypt", "v", "--pool", kPool, "--image", "img-" + tag + "-x"});
        EXPECT_EQ(again.exit_code, 0) << again.err;
        ExpectImagesExplained(scene, tag);
      });
  EXPECT_NE(std::find(steps.begin(), steps.end(), "store.SwapConversion"), steps.end());
}

}  // namespace
}  // namespace testing
}  // namespace volcrypt
