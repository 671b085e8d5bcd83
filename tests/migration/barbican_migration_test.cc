// The fixed-key migration against the real services: a real Barbican
// (tests/scripts/barbican.sh) as the destination, the volume database in
// SQLite and in a real PostgreSQL server (tests/scripts/postgres.sh), real
// LUKS file volumes. Mixed items on two hosts, some already migrated;
// concurrent migrators; the migrator and Barbican killed mid-run, then a
// rerun; Barbican refusing secret creation (no 'creator' role).
#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "tests/migration/migration_world.h"
#include "tests/support/faults.h"
#include "tests/support/recording_logger.h"
#include "tests/support/script_testbed.h"
#include "tests/support/test_support.h"
#include "volcrypt/barbican_key_manager.h"
#include "volcrypt/key_migration.h"

namespace volcrypt {
namespace testing {
namespace {

ScriptTestbed* const kBarbicanBed = static_cast<ScriptTestbed*>(
    ::testing::AddGlobalTestEnvironment(new ScriptTestbed("barbican.sh")));
ScriptTestbed* const kPostgresBed = static_cast<ScriptTestbed*>(
    ::testing::AddGlobalTestEnvironment(new ScriptTestbed("postgres.sh")));

enum class Db { kSqlite, kPostgres };

std::unique_ptr<KeyManager> Barbican(const std::string& project,
                                     const std::string& roles = "") {
  BarbicanOptions o;
  o.endpoint = kBarbicanBed->address();
  o.project_id = project;
  o.roles = roles;
  o.timeout_seconds = 5;
  return std::move(NewBarbicanKeyManager(o, NullLogger()).value());
}

class BarbicanMigrationTest : public ::testing::TestWithParam<Db> {
 protected:
  void SetUp() override {
    VOLCRYPT_REQUIRE_TESTBED(kBarbicanBed);
    if (GetParam() == Db::kPostgres) {
      VOLCRYPT_REQUIRE_TESTBED(kPostgresBed);
      static std::atomic<int> next{0};
      const std::string db = absl::StrCat("migration_", getpid(), "_", next++);
      PGconn* admin = PQconnectdb(kPostgresBed->address().c_str());
      ASSERT_EQ(PQstatus(admin), CONNECTION_OK);
      PQclear(PQexec(admin, ("CREATE DATABASE " + db).c_str()));
      PQfinish(admin);
      conninfo_ = kPostgresBed->address() + " dbname=" + db;
    }
    // Each test its own Barbican project: secrets never mix.
    project_ = absl::StrCat("project-", ::testing::UnitTest::GetInstance()->random_seed(),
                            "-", getpid(), "-", counter_++);
    store_ = OpenStore();
    ASSERT_NE(store_, nullptr);
    keys_ = Barbican(project_);
    world_ = std::make_unique<MigrationWorld>(*store_, tmp_.path());
    fixed_ = world_->FixedKeys();
    // host-a: a1 (2 snapshots, a backup), a2, a3 (a backup), a4, a5 on the
    // fixed key, a6 already on a Barbican key; host-b: b1 (a snapshot, a
    // backup), b2.
    world_->AddFixedKeyVolume("a1", "host-a", 2, true);
    for (const char* id : {"a2", "a4", "a5"}) world_->AddFixedKeyVolume(id, "host-a", 0, false);
    world_->AddFixedKeyVolume("a3", "host-a", 0, true);
    world_->AddOwnKeyVolume("a6", "host-a", *keys_);
    world_->AddFixedKeyVolume("b1", "host-b", 1, true);
    world_->AddFixedKeyVolume("b2", "host-b", 0, false);
  }

  std::unique_ptr<VolumeStore> OpenStore() {
    auto s = GetParam() == Db::kSqlite ? OpenSqliteVolumeStore(tmp_.File("volumes.db"))
                                       : OpenPostgresVolumeStore(conninfo_);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  // Runs one migration of `host` in a child process with its own
  // connections, as another host's (or the same host's) service would.
  pid_t MigrateInChild(const std::string& host, const char* crash_at = nullptr,
                       int nth = 0) {
    const pid_t pid = fork();
    if (pid != 0) return pid;
    std::unique_ptr<VolumeStore> store = OpenStore();
    std::unique_ptr<KeyManager> keys = Barbican(project_);
    FaultPlan plan;
    if (crash_at) plan.Inject(crash_at, nth, FaultPlan::Action::kCrash);
    FaultyStore faulty_store(store.get(), &plan);
    FaultyKeyManager faulty_keys(keys.get(), &plan);
    KeyMigrationOptions o;
    o.host = host;
    auto r = MigrateFixedKeyItems(faulty_store, fixed_.get(), faulty_keys, o, NullLogger());
    _exit(r.ok() && r->failed == 0 ? 0 : 1);
  }

  absl::StatusOr<KeyMigrationReport> Migrate(const std::string& host, KeyManager& dest) {
    KeyMigrationOptions o;
    o.host = host;
    return MigrateFixedKeyItems(*store_, fixed_.get(), dest, o, &log_);
  }

  static inline int counter_ = 0;
  TempDir tmp_;
  std::string conninfo_;
  std::string project_;
  std::unique_ptr<VolumeStore> store_;
  std::unique_ptr<KeyManager> keys_;
  std::unique_ptr<MigrationWorld> world_;
  std::unique_ptr<KeyManager> fixed_;
  RecordingLogger log_;
};

TEST_P(BarbicanMigrationTest, MigratesThisHostOnlyAndEveryVolumeOpensWithBarbicansKey) {
  absl::StatusOr<KeyMigrationReport> r = Migrate("host-a", *keys_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->migrated, 7);  // 5 volumes, 2 backups
  EXPECT_EQ(r->failed, 0);
  EXPECT_EQ(r->volumes_remaining, 0);
  EXPECT_EQ(world_->FixedKeyItems("host-a"), 0);
  EXPECT_EQ(world_->FixedKeyItems("host-b"), 3);
  world_->Check("host-a", *keys_);
  // As cinder does, the owner may read the new secret (Barbican's ACL).
  const std::string a1_key = store_->GetVolume("a1")->encryption_key_id;
  CommandResult acl = RunCommand({"curl", "-sf", "-H", "X-Project-Id: " + project_,
                                  kBarbicanBed->address() + "/v1/secrets/" + a1_key + "/acl"});
  ASSERT_EQ(acl.exit_code, 0) << acl.err;
  nlohmann::json read = nlohmann::json::parse(acl.out)["read"];
  EXPECT_EQ(read["users"], nlohmann::json::array({"owner-of-a1"})) << acl.out;
  EXPECT_EQ(read["project-access"], true) << acl.out;
  EXPECT_EQ(log_.Count("Starting migration of ConfKeyManager keys."), 1);
  EXPECT_EQ(log_.Count("Migrating volume a1 encryption key to Barbican"), 1);
  EXPECT_EQ(log_.Count("Migrating backup a3-backup encryption key to Barbican"), 1);
  EXPECT_EQ(log_.Count("No volumes are using the ConfKeyManager's encryption_key_id."), 1);
  EXPECT_EQ(log_.Count("No backups are known to be using the ConfKeyManager's encryption_key_id."), 1);
}

TEST_P(BarbicanMigrationTest, HostsMigratingAtOnceNeverMigrateAnItemTwice) {
  // host-a twice (a misconfigured second service) and host-b, all at once.
  std::vector<pid_t> runs = {MigrateInChild("host-a"), MigrateInChild("host-a"),
                             MigrateInChild("host-b")};
  for (pid_t pid : runs) EXPECT_EQ(WaitForExit(pid), 0);
  EXPECT_EQ(world_->FixedKeyItems("host-a"), 0);
  EXPECT_EQ(world_->FixedKeyItems("host-b"), 0);
  // Exactly one secret per item (Check), each opening its volume.
  world_->Check("host-a", *keys_);
  world_->Check("host-b", *keys_);
}

TEST_P(BarbicanMigrationTest, KilledMigratorThenRerunLeavesNoDuplicate) {
  for (const char* step : {"keys.AddConsumer", "store.KeyIdChange.Commit"}) {
    SCOPED_TRACE(step);
    EXPECT_EQ(WaitForExit(MigrateInChild("host-a", step, 2)), 42);
  }
  absl::StatusOr<KeyMigrationReport> r = Migrate("host-a", *keys_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->failed, 0);
  int adopted = 0;
  for (const auto& item : r->items) adopted += item.adopted_secret;
  EXPECT_GE(adopted, 1);
  EXPECT_EQ(world_->FixedKeyItems("host-a"), 0);
  world_->Check("host-a", *keys_);
}

TEST_P(BarbicanMigrationTest, BarbicanKilledMidRunAbortsThenARerunFinishes) {
  KeyMigrationOptions o;
  o.host = "host-a";
  o.on_item = [](const KeyMigrationItem&, const KeyMigrationProgress& p) {
    if (p.done == 2) kBarbicanBed->Stop();
  };
  BarbicanOptions bo;
  bo.endpoint = kBarbicanBed->address();
  bo.project_id = project_;
  bo.timeout_seconds = 2;
  bo.max_attempts = 2;
  std::unique_ptr<KeyManager> impatient = std::move(NewBarbicanKeyManager(bo, NullLogger()).value());
  absl::StatusOr<KeyMigrationReport> r =
      MigrateFixedKeyItems(*store_, fixed_.get(), *impatient, o, &log_);
  ASSERT_TRUE(kBarbicanBed->Restart());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->migrated, 2);
  EXPECT_EQ(r->failed, 4);
  EXPECT_TRUE(r->aborted);
  EXPECT_EQ(log_.Count("Aborting encryption key migration (too many errors)."), 1);
  EXPECT_EQ(log_.Count("There are still 3 volume(s) using the ConfKeyManager's "
                       "all-zeros encryption key ID."), 1);
  // The two done before the kill stay readable through the restart.
  world_->Check("host-a", *keys_);

  r = Migrate("host-a", *keys_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->migrated, 5);
  EXPECT_EQ(world_->FixedKeyItems("host-a"), 0);
  world_->Check("host-a", *keys_);
}

TEST_P(BarbicanMigrationTest, WithoutTheCreatorRoleNothingMovesAndTheErrorSaysWhy) {
  std::unique_ptr<KeyManager> observer = Barbican(project_, "observer");
  absl::StatusOr<KeyMigrationReport> r = Migrate("host-a", *observer);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->aborted);
  EXPECT_EQ(r->migrated, 0);
  ASSERT_FALSE(r->items.empty());
  EXPECT_NE(r->items[0].error.find("403"), std::string::npos) << r->items[0].error;
  EXPECT_NE(r->items[0].error.find("'creator' role"), std::string::npos) << r->items[0].error;
  EXPECT_EQ(world_->FixedKeyItems("host-a"), 7);
  EXPECT_TRUE(keys_->FindKeysByName(MigratedKeyName(KeyHolderKind::kVolume, "a1"))->empty());
}

// The operator's command: a dry run listing what would change, then the run
// with one JSON line per item and a summary, then progress on a terminal.
TEST_P(BarbicanMigrationTest, CliDryRunJsonLinesAndTerminalProgress) {
  const std::string key_file = tmp_.File("fixed.hex");
  world_->WriteFixedKeyFile(key_file);
  const char* cli = std::getenv("VOLCRYPT_CLI");
  ASSERT_NE(cli, nullptr);
  std::vector<std::string> base = {cli};
  if (GetParam() == Db::kSqlite) {
    base.insert(base.end(), {"--db", tmp_.File("volumes.db")});
  } else {
    base.insert(base.end(), {"--postgres", conninfo_});
  }
  base.insert(base.end(), {"keys", "migrate", "--fixed-key-file", key_file, "--barbican",
                           kBarbicanBed->address(), "--project-id", project_, "--host"});
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  };

  CommandResult dry = RunCommand(with({"host-b", "--dry-run"}));
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("would-migrate volume b1\n"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("would-migrate backup b1-backup\n"), std::string::npos) << dry.out;
  EXPECT_EQ(world_->FixedKeyItems("host-b"), 3);

  CommandResult run = RunCommand(with({"host-b", "--json"}));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  std::vector<nlohmann::json> lines;
  std::istringstream in(run.out);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 4u) << run.out;
  EXPECT_EQ(lines[0]["id"], "b1");
  EXPECT_EQ(lines[0]["outcome"], "migrated");
  EXPECT_EQ(lines[0]["snapshots"], 1);
  EXPECT_EQ(lines[3]["summary"]["migrated"], 3);
  EXPECT_EQ(lines[3]["summary"]["volumes_remaining"], 0);
  EXPECT_NE(run.err.find("volcrypt: INFO: Migrating volume b1 encryption key to Barbican"),
            std::string::npos) << run.err;
  world_->Check("host-b", *keys_);

  // On a terminal (script(1) gives it one): a progress line, items of total.
  std::string command;
  for (const std::string& a : with({"host-a"})) command += "'" + a + "' ";
  CommandResult tty = RunCommand({"script", "-qec", command, "/dev/null"});
  EXPECT_EQ(tty.exit_code, 0) << tty.out << tty.err;
  EXPECT_NE(tty.out.find("7/7 items"), std::string::npos) << tty.out;
  EXPECT_NE(tty.out.find("host-a: 7 migrated, 0 failed"), std::string::npos) << tty.out;
  world_->Check("host-a", *keys_);
}

INSTANTIATE_TEST_SUITE_P(Databases, BarbicanMigrationTest,
                         ::testing::Values(Db::kSqlite, Db::kPostgres),
                         [](const ::testing::TestParamInfo<Db>& db) {
                           return db.param == Db::kSqlite ? "SQLite" : "PostgreSQL";
                         });

}  // namespace
}  // namespace testing
}  // namespace volcrypt
