// Adversarial scenarios against a real Barbican (tests/scripts/barbican.sh):
// a delete interrupted by Barbican's death, and a migration into a frozen
// Barbican while other commands run.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "tests/adversarial/adversary.h"
#include "tests/adversarial/end_state.h"
#include "tests/ceph/ceph_testbed.h"
#include "tests/support/script_testbed.h"
#include "tests/support/test_support.h"

namespace volcrypt {
namespace testing {
namespace {

ScriptTestbed* const kBarbican = static_cast<ScriptTestbed*>(
    ::testing::AddGlobalTestEnvironment(new ScriptTestbed("barbican.sh")));

// Ceph for the RBD variant of class 1 (its tests skip without it).
::testing::Environment* const kCeph = ::testing::AddGlobalTestEnvironment(new CephTestbed);

constexpr char kSize[] = "16M";
constexpr char kProject[] = "adversary-project";

pid_t BarbicanPid() {
  return static_cast<pid_t>(std::atoi(FileContent(kBarbican->dir() + "/barbican.pid").c_str()));
}

class BarbicanAdversary : public ::testing::Test {
 protected:
  BarbicanAdversary()
      : op_({"--state-dir", tmp_.File("state"), "--barbican", kBarbican->address(),
             "--project-id", kProject}),
        other_({"--state-dir", tmp_.File("other-state")}) {}

  void SetUp() override { VOLCRYPT_REQUIRE_TESTBED(kBarbican); }
  void TearDown() override {
    // Whatever a test did, Barbican runs again for the next one.
    if (kBarbican->address().empty()) return;
    kill(BarbicanPid(), SIGCONT);
    if (RunBounded({"curl", "-sf", "-m", "2", kBarbican->address()}, 10).exit_code != 0) {
      kBarbican->Restart();
    }
  }

  std::string Vol(const std::string& name) const { return tmp_.File(name); }

  // Volume `id` at `path`, then its delete interrupted after the file went:
  // Barbican is killed, so the key cannot be deleted and the record stays
  // 'deleting'. Barbican is then started again (same port, same secrets).
  void InterruptedDelete(const std::string& id, const std::string& path) {
    const Outcome made = op_.Run({"volume", "create", "--path", path, "--size", kSize, "--id", id});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    kBarbican->Stop();
    const Outcome del = op_.Run({"volume", "delete", id}, 120);
    ASSERT_TRUE(kBarbican->Restart());
    ASSERT_EQ(del.exit_code, 1) << "the delete should fail on the dead Barbican: " << del.err;
    ASSERT_NE(access(path.c_str(), F_OK), 0) << "the delete did not remove the file first";
    const nlohmann::json shown = ParseJson(op_.Run({"volume", "show", id}).out);
    ASSERT_TRUE(shown.is_object());
    ASSERT_EQ(shown.value("status", std::string()), "deleting");
  }

  TempDir tmp_;
  Operator op_;     // volcrypt with its keys in Barbican
  Operator other_;  // another tenant's volcrypt: own state dir, file keys
};

// --- Class 1: a recorded location someone else now owns -------------------

// (One interrupted delete serves both promises: a Barbican restart per
// interruption is most of this suite's time.)
TEST_F(BarbicanAdversary, ThePathOfAnUnfinishedDeleteIsRefusedAndLeftToItsNewOwner) {
  const std::string path = Vol("reused");
  InterruptedDelete("a", path);
  // (a) Our own create there is refused while a's record holds the path.
  const Outcome b = op_.Run({"volume", "create", "--path", path, "--size", kSize, "--id", "b"});
  EXPECT_EQ(b.exit_code, 1)
      << "a location still held by the unfinished delete of 'a' must be refused at create";
  EXPECT_TRUE(b.err.find(path) != std::string::npos || b.err.find("'a'") != std::string::npos ||
              b.err.find("volume a ") != std::string::npos)
      << "the refusal must name the path or the record holding it: " << b.err;
  EXPECT_TRUE(b.exit_code == 0 || IsOneShortLine(b.err)) << b.err;
  if (b.exit_code == 0) {  // wrongly made: it goes again (its key is in Barbican)
    op_.Run({"volume", "delete", "b"});
  }

  // (b) Rerunning a's delete, and reconcile, leave another owner's volume.
  // Another tenant's volcrypt (a different state dir) makes its volume there.
  const Outcome theirs = other_.Run({"volume", "create", "--path", path, "--size", kSize,
                                     "--id", "theirs"});
  ASSERT_EQ(theirs.exit_code, 0) << theirs.err;
  const std::string before = FileContent(path);

  const Outcome rerun = op_.Run({"volume", "delete", "a"});
  EXPECT_EQ(rerun.exit_code, 0) << "rerunning the delete must finish a's record: " << rerun.err;
  const Outcome rec = op_.Run({"reconcile", "--grace", "0"});
  EXPECT_EQ(rec.exit_code, 0) << rec.err;
  EXPECT_TRUE(FileContent(path) == before)
      << "finishing a's delete " << (FileContent(path) == "<missing>" ? "deleted" : "changed")
      << " " << path << ", which another volume now owns: a delete must verify its "
                        "ownership proof before every destructive step";
  EXPECT_EQ(op_.Run({"volume", "show", "a"}).exit_code, 1) << "a's record was not finished";
  EXPECT_EQ(other_.Run({"volume", "verify", "theirs"}).exit_code, 0);
  EndState mine;
  mine.op = &op_;
  mine.foreign_files[path] = before;
  ExpectEndState(mine);
  EndState their;
  their.op = &other_;
  their.keys_dir = tmp_.File("other-state/keys");
  ExpectEndState(their);
}

TEST_F(BarbicanAdversary, ReconcileOfAnUnfinishedDeleteLeavesAForeignLuksFileAlone) {
  const std::string path = Vol("reused");
  InterruptedDelete("a", path);
  // Someone formats their own LUKS file there with cryptsetup.
  MakeSparseFile(path, 16 << 20);
  const SecretBytes pass = HexPassphrase(RandomKey());
  const CommandResult fmt = RunCommand({"cryptsetup", "luksFormat", "--type", "luks1",
                                        "--batch-mode", "--pbkdf-force-iterations", "1000",
                                        "--key-file", "/dev/fd/3", path},
                                       &pass);
  ASSERT_EQ(fmt.exit_code, 0) << fmt.err;
  const std::string before = FileContent(path);
  const Outcome rec = op_.Run({"reconcile", "--grace", "0"});
  EXPECT_EQ(rec.exit_code, 0) << rec.err;
  EXPECT_TRUE(FileContent(path) == before)
      << "reconcile finishing a's delete destroyed the LUKS file someone else put at "
      << path;
  EXPECT_EQ(op_.Run({"volume", "show", "a"}).exit_code, 1) << "a's record was not finished";
  EndState mine;
  mine.op = &op_;
  mine.foreign_files[path] = before;
  ExpectEndState(mine);
}

// The same for an RBD image name: the delete of 'a' stopped after the image
// was removed; another tenant's volcrypt makes an image of the same name.
TEST_F(BarbicanAdversary, RbdImageOfAnUnfinishedDeleteIsLeftToItsNewOwner) {
  if (CephTestbed::conf().empty()) GTEST_SKIP() << CephTestbed::skip_reason();
  const std::string conf = CephTestbed::conf();
  const Operator mine({"--state-dir", tmp_.File("state"), "--barbican", kBarbican->address(),
                       "--project-id", kProject, "--ceph-conf", conf});
  const Operator theirs({"--state-dir", tmp_.File("other-state"), "--ceph-conf", conf});
  const std::string image = "adv-reused-" + std::to_string(getpid());
  const std::vector<std::string> where = {"--backend", "rbd", "--pool", "rbd", "--image", image,
                                          "--size", kSize};
  auto create = [&](const Operator& op, const std::string& id) {
    std::vector<std::string> args = {"volume", "create", "--id", id};
    args.insert(args.end(), where.begin(), where.end());
    return op.Run(args, 120);
  };
  auto image_id = [&]() {
    const Outcome info = RunBounded({"rbd", "-c", conf, "info", "rbd/" + image, "--format",
                                     "json"}, 60);
    const nlohmann::json j = ParseJson(info.out);
    return info.exit_code == 0 && j.is_object() ? j.value("id", std::string("?")) : "";
  };
  const Outcome made = create(mine, "a");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  kBarbican->Stop();
  const Outcome del = mine.Run({"volume", "delete", "a"}, 120);
  ASSERT_TRUE(kBarbican->Restart());
  ASSERT_EQ(del.exit_code, 1) << del.err;
  ASSERT_EQ(image_id(), "") << "the delete did not remove the image first";

  const Outcome again = create(mine, "b");
  EXPECT_EQ(again.exit_code, 1)
      << "the image name still held by the unfinished delete of 'a' must be refused";
  if (again.exit_code == 0) mine.Run({"volume", "delete", "b"}, 120);

  const Outcome other = create(theirs, "theirs");
  ASSERT_EQ(other.exit_code, 0) << other.err;
  const std::string owner = image_id();
  ASSERT_NE(owner, "");
  EXPECT_EQ(mine.Run({"volume", "delete", "a"}, 120).exit_code, 0);
  EXPECT_EQ(mine.Run({"reconcile", "--grace", "0"}, 120).exit_code, 0);
  EXPECT_EQ(image_id(), owner) << "finishing a's delete removed rbd/" << image
                               << ", which another volume now owns (its image id differs "
                                  "from the one a's record should carry as proof)";
  EXPECT_EQ(mine.Run({"volume", "show", "a"}).exit_code, 1) << "a's record was not finished";
  EndState their;
  their.op = &theirs;
  their.keys_dir = tmp_.File("other-state/keys");
  ExpectEndState(their);
  theirs.Run({"volume", "delete", "theirs"}, 120);
}

// --- Class 7: locks held across the network --------------------------------

TEST_F(BarbicanAdversary, ReadsWorkWhileAMigrationWaitsOnAFrozenBarbican) {
  const std::string fixed = tmp_.File("fixed.hex");
  {
    std::ofstream out(fixed);
    out << std::string(64, '5') << "\n";
  }
  chmod(fixed.c_str(), 0600);
  const Operator on_fixed({"--state-dir", tmp_.File("state"), "--fixed-key-file", fixed});
  for (const std::string id : {"m1", "m2", "m3"}) {
    const Outcome made = on_fixed.Run({"volume", "create", "--path", Vol(id), "--size", kSize,
                                       "--id", id});
    ASSERT_EQ(made.exit_code, 0) << made.err;
  }
  const pid_t server = BarbicanPid();
  ASSERT_GT(server, 0);
  ASSERT_EQ(kill(server, SIGSTOP), 0);
  // Thawed whatever happens below.
  auto thaw = std::shared_ptr<void>(nullptr, [server](void*) { kill(server, SIGCONT); });
  Background migrate({CliPath(), "--state-dir", tmp_.File("state"), "keys", "migrate",
                      "--fixed-key-file", fixed, "--barbican", kBarbican->address(),
                      "--project-id", kProject});
  std::this_thread::sleep_for(std::chrono::seconds(1));  // it is waiting on Barbican now
  const Outcome list = on_fixed.Run({"volume", "list"}, 30);
  const Outcome show = on_fixed.Run({"volume", "show", "m2"}, 30);
  kill(server, SIGCONT);
  EXPECT_EQ(list.exit_code, 0) << "`volume list` failed while a migration waited on Barbican "
                                  "(no lock may be held across a network call): " << list.err;
  EXPECT_EQ(show.exit_code, 0) << "`volume show` failed while a migration waited on Barbican: "
                               << show.err;
  const Outcome migrated = migrate.Wait(180);
  EXPECT_FALSE(migrated.timed_out);
  EXPECT_EQ(migrated.exit_code, 0) << migrated.out << migrated.err;
  EndState end;
  end.op = &op_;  // the keys are in Barbican now
  ExpectEndState(end);
}

}  // namespace
}  // namespace testing
}  // namespace volcrypt
