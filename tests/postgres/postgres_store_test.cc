// PostgreSQL's VolumeStore on a real server (tests/scripts/postgres.sh): the
// store contract (tests/store), one fresh database per test, and what only a
// shared database has: hosts opening it at once, lock timeouts, a lost
// server.
#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/store/store_under_test.h"
#include "tests/support/script_testbed.h"
#include "tests/support/test_support.h"

namespace volcrypt {
namespace testing {

ScriptTestbed* const kPostgres = static_cast<ScriptTestbed*>(
    ::testing::AddGlobalTestEnvironment(new ScriptTestbed("postgres.sh")));

// Runs one statement on the server's maintenance database, or on `dbname`.
void AdminSql(const std::string& sql, const std::string& dbname = "") {
  const std::string conninfo =
      dbname.empty() ? kPostgres->address() : kPostgres->address() + " dbname=" + dbname;
  PGconn* conn = PQconnectdb(conninfo.c_str());
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  PGresult* r = PQexec(conn, sql.c_str());
  EXPECT_TRUE(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
      << PQerrorMessage(conn);
  PQclear(r);
  PQfinish(conn);
}

class PostgresStoreUnderTest : public StoreUnderTest {
 public:
  PostgresStoreUnderTest() {
    if (kPostgres->address().empty()) return;
    static std::atomic<int> next{0};
    dbname_ = absl::StrCat("volcrypt_test_", getpid(), "_", next++);
    AdminSql("CREATE DATABASE " + dbname_);
  }
  std::string SkipReason() const override {
    return kPostgres->address().empty() ? kPostgres->skip_reason() : "";
  }
  using StoreUnderTest::Open;
  absl::StatusOr<std::unique_ptr<VolumeStore>> Open(
      const VolumeStoreOptions& options) override {
    return OpenPostgresVolumeStore(conninfo(), options);
  }
  void Sql(const std::string& sql) override { AdminSql(sql, dbname_); }
  void SetSchemaVersion(int version) override {
    Sql("DELETE FROM volcrypt_schema; INSERT INTO volcrypt_schema VALUES (" +
        std::to_string(version) + ")");
  }
  std::string conninfo() const {
    return absl::StrCat(kPostgres->address(), " dbname=", dbname_);
  }

 private:
  std::string dbname_;
};

std::unique_ptr<StoreUnderTest> NewStoreUnderTest() {
  return std::make_unique<PostgresStoreUnderTest>();
}

namespace {

class PostgresVolumeStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { VOLCRYPT_REQUIRE_TESTBED(kPostgres); }
  PostgresStoreUnderTest db_;
};

TEST_F(PostgresVolumeStoreTest, HostsOpeningANewDatabaseAtOnceAllSucceed) {
  std::vector<pid_t> hosts;
  for (int i = 0; i < 4; ++i) {
    const pid_t pid = fork();
    if (pid == 0) {
      auto store = OpenPostgresVolumeStore(db_.conninfo());
      _exit(store.ok() && (*store)->CreateVolume(TestVolume("v" + std::to_string(i))).ok() ? 0 : 1);
    }
    hosts.push_back(pid);
  }
  for (pid_t pid : hosts) EXPECT_EQ(WaitForExit(pid), 0);
  auto store = OpenPostgresVolumeStore(db_.conninfo());
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->ListVolumes({})->size(), 4u);
}

TEST_F(PostgresVolumeStoreTest, ARowLockHeldTooLongIsUnavailable) {
  auto first = OpenPostgresVolumeStore(db_.conninfo());
  ASSERT_TRUE(first.ok()) << first.status();
  VolumeRecord v = TestVolume("v1");
  VOLCRYPT_ASSERT_OK((*first)->CreateVolume(v));
  auto held = (*first)->BeginKeyIdChange(KeyHolderKind::kVolume, "v1", v.encryption_key_id);
  ASSERT_TRUE(held.ok()) << held.status();
  auto impatient = OpenPostgresVolumeStore(db_.conninfo(), /*lock_timeout_ms=*/200);
  ASSERT_TRUE(impatient.ok()) << impatient.status();
  EXPECT_THAT((*impatient)->BeginKeyIdChange(KeyHolderKind::kVolume, "v1", v.encryption_key_id),
              StatusIsWith(absl::StatusCode::kUnavailable, "lock"));
  // Other items are not locked.
  VOLCRYPT_EXPECT_OK((*impatient)->CreateVolume(TestVolume("v2")));
}

TEST_F(PostgresVolumeStoreTest, UnreachableServerIsUnavailableAndHidesThePassword) {
  auto store = OpenPostgresVolumeStore(
      "host=127.0.0.1 port=1 user=volcrypt password=hunter2-secret connect_timeout=2");
  EXPECT_THAT(store, StatusIsWith(absl::StatusCode::kUnavailable, "cannot connect"));
  EXPECT_EQ(store.status().ToString().find("hunter2"), std::string::npos);
}

TEST_F(PostgresVolumeStoreTest, ALostServerConnectionIsUnavailable) {
  auto store = OpenPostgresVolumeStore(db_.conninfo());
  ASSERT_TRUE(store.ok()) << store.status();
  AdminSql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" +
           db_.conninfo().substr(db_.conninfo().rfind('=') + 1) + "'");
  EXPECT_THAT((*store)->GetVolume("v1"), StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace testing
}  // namespace volcrypt
