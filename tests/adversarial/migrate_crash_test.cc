// kill -9 at every step of `keys migrate` (the fixed key to per-volume file
// keys), duplicates of interrupted runs included, each followed by the
// recovery the migration promises: a rerun. Then the end state: every
// record on its own key and verifying with it, and no key that no record
// explains (no duplicate, no orphan of the killed run).
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "tests/adversarial/crash_harness.h"

namespace volcrypt {
namespace testing {
namespace {

constexpr int kVolumes = 2;

std::string FixedKeyFile(const Scene& scene) { return scene.dir() + "/fixed.hex"; }

TEST_F(CrashTest, KillAtEveryStepOfKeysMigrateThenARerunLeavesEveryVolumeOnOneKey) {
  ceph_ = false;  // file volumes only
  const std::vector<std::string> steps = KillAtEveryStep(
      "migrate",
      [](const Scene& scene, const std::string&) {
        {
          std::ofstream out(FixedKeyFile(scene));
          out << std::string(64, '7') << "\n";
        }
        chmod(FixedKeyFile(scene).c_str(), 0600);
        std::vector<std::string> globals = scene.op().globals();
        globals.push_back("--fixed-key-file");
        globals.push_back(FixedKeyFile(scene));
        const Operator on_fixed(globals);
        for (int i = 1; i <= kVolumes; ++i) {
          const std::string id = "v" + std::to_string(i);
          const Outcome c = on_fixed.Run({"volume", "create", "--path",
                                          scene.dir() + "/" + id + ".img", "--size", "16M",
                                          "--id", id});
          ASSERT_EQ(c.exit_code, 0) << c.err;
        }
        // Two secrets named for v2's migrated key, as two killed runs leave.
        scene.MustRun({"plant-duplicates", "v2", FixedKeyFile(scene)});
      },
      [this](const std::string& tag) {
        return std::vector<std::string>{"migrate", tmp_.File(tag) + "/fixed.hex"};
      },
      [](const Scene& scene, const std::string&) {
        const auto records = scene.Records();
        EXPECT_EQ(records.size(), static_cast<size_t>(kVolumes));
        std::set<std::string> keys;
        for (const auto& [id, r] : records) {
          const std::string key = r.value("encryption_key_id", "");
          EXPECT_NE(key.find_first_not_of("0-"), std::string::npos)
              << id << " is still on the fixed key";
          keys.insert(key);
        }
        EXPECT_EQ(keys.size(), static_cast<size_t>(kVolumes)) << "two volumes share a key";
      },
      [](const Scene& scene) { scene.MustRun({"migrate", FixedKeyFile(scene)}); });
  EXPECT_NE(std::find(steps.begin(), steps.end(), "keys.DeleteKey"), steps.end())
      << "the duplicates' clean-up was never a step";
  EXPECT_NE(std::find(steps.begin(), steps.end(), "store.KeyIdChange.Commit"), steps.end());
}

}  // namespace
}  // namespace testing
}  // namespace volcrypt
