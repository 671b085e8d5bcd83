// `volcrypt keys rotate` over 200 volumes in one PostgreSQL database, run by
// two processes at once (two hosts sharing the database), one of them killed
// (-9) partway and rerun after a reconcile: every volume is rotated exactly
// once, opens with its recorded key, and has exactly one key.
#include <dirent.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/support/script_testbed.h"
#include "tests/support/test_support.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/mapped_backend.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::ScriptTestbed;
using ::volcrypt::testing::TempDir;

ScriptTestbed* const kPostgres = static_cast<ScriptTestbed*>(
    ::testing::AddGlobalTestEnvironment(new ScriptTestbed("postgres.sh")));

constexpr int kVolumes = 200;

std::string Cli() {
  const char* path = std::getenv("VOLCRYPT_CLI");
  return path ? path : "volcrypt";
}

void AdminSql(const std::string& sql) {
  PGconn* conn = PQconnectdb(kPostgres->address().c_str());
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  PGresult* r = PQexec(conn, sql.c_str());
  EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQerrorMessage(conn);
  PQclear(r);
  PQfinish(conn);
}

// A running `volcrypt ... keys rotate`, its stdout on a pipe.
struct Rotation {
  pid_t pid = -1;
  FILE* out = nullptr;
};

Rotation StartRotation(const std::vector<std::string>& args) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  std::vector<std::string> argv = args;
  argv.insert(argv.begin(), Cli());
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDERR_FILENO);
    std::vector<char*> raw;
    for (std::string& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    execv(raw[0], raw.data());
    _exit(127);
  }
  close(fds[1]);
  return {pid, fdopen(fds[0], "r")};
}

// Reads lines until `max` lines or the end; returns them.
std::vector<std::string> ReadLines(FILE* f, int max) {
  std::vector<std::string> lines;
  char buf[512];
  while (static_cast<int>(lines.size()) < max && std::fgets(buf, sizeof buf, f) != nullptr) {
    lines.emplace_back(buf);
  }
  return lines;
}

TEST(FleetRotationTest, TwoHostsAndAKilledRerunRotateEachOfTwoHundredVolumesOnce) {
  VOLCRYPT_REQUIRE_TESTBED(kPostgres);
  TempDir tmp;
  const std::string dbname = absl::StrCat("volcrypt_fleet_", getpid());
  AdminSql("CREATE DATABASE " + dbname);
  const std::string conninfo = absl::StrCat(kPostgres->address(), " dbname=", dbname);
  // The master key in a file the CLI reads too (0600).
  const SecretBytes master = SecretBytes::Random(32).value();
  {
    std::ofstream mk(tmp.File("master.key"), std::ios::binary);
    mk.write(master.char_data(), static_cast<std::streamsize>(master.size()));
  }
  chmod(tmp.File("master.key").c_str(), 0600);
  mkdir(tmp.File("vols").c_str(), 0700);

  std::map<std::string, std::string> original;  // volume id -> key id
  {
    auto keys = std::move(NewFileKeyManager(tmp.File("keys"), master.Clone(), nullptr).value());
    auto store = std::move(OpenPostgresVolumeStore(conninfo).value());
    auto mapped = NewMappedBackend();
    VolumeServiceOptions o;
    o.keys = keys.get();
    o.store = store.get();
    o.mapped = mapped.get();
    o.host = "h1";
    o.logger = NullLogger();
    auto service = std::move(VolumeService::Create(o).value());
    for (int i = 0; i < kVolumes; ++i) {
      CreateVolumeRequest r;
      r.id = absl::StrCat("v", 1000 + i);
      r.location = VolumeLocation::Path(tmp.File("vols/" + r.id));
      r.size_bytes = 1 << 20;
      absl::StatusOr<VolumeRecord> v = service->CreateVolume(r);
      ASSERT_TRUE(v.ok()) << v.status();
      original[v->id] = v->encryption_key_id;
    }
  }
  // Every key so far was made before the cutoff; every rotation after it.
  const int64_t cutoff = static_cast<int64_t>(std::time(nullptr)) + 1;
  while (static_cast<int64_t>(std::time(nullptr)) < cutoff) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::vector<std::string> common = {
      "--postgres", conninfo, "--keys", tmp.File("keys"), "--master-key", tmp.File("master.key"),
      "--host", "h1"};
  auto rotate_args = [&]() {
    std::vector<std::string> a = common;
    for (const char* s : {"keys", "rotate", "--max-errors", "0", "--created-before"}) a.push_back(s);
    a.push_back(std::to_string(cutoff));
    return a;
  };
  std::vector<std::string> lines;
  Rotation a = StartRotation(rotate_args());
  Rotation b = StartRotation(rotate_args());
  // Host A dies (-9) partway, in the middle of whatever step it is at.
  std::vector<std::string> a_lines = ReadLines(a.out, 25);
  kill(a.pid, SIGKILL);
  waitpid(a.pid, nullptr, 0);
  std::vector<std::string> rest = ReadLines(a.out, 1 << 20);
  a_lines.insert(a_lines.end(), rest.begin(), rest.end());
  fclose(a.out);
  std::vector<std::string> b_lines = ReadLines(b.out, 1 << 20);
  fclose(b.out);
  ASSERT_EQ(testing::WaitForExit(b.pid), 0);
  // The operator's procedure after a kill: reconcile, then rerun.
  std::vector<std::string> reconcile = common;
  reconcile.insert(reconcile.end(), {"reconcile", "--grace", "0"});
  reconcile.insert(reconcile.begin(), Cli());
  testing::CommandResult rc = RunCommand(reconcile);
  ASSERT_EQ(rc.exit_code, 0) << rc.err;
  Rotation again = StartRotation(rotate_args());
  std::vector<std::string> again_lines = ReadLines(again.out, 1 << 20);
  fclose(again.out);
  ASSERT_EQ(testing::WaitForExit(again.pid), 0);

  std::map<std::string, int> rotated;
  int a_rotated = 0, b_rotated = 0;
  for (auto* run : {&a_lines, &b_lines, &again_lines}) {
    for (const std::string& line : *run) {
      if (line.rfind("rotated volume ", 0) != 0) continue;
      std::istringstream in(line.substr(15));
      std::string id;
      in >> id;
      ++rotated[id];
      if (run == &a_lines) ++a_rotated;
      if (run == &b_lines) ++b_rotated;
    }
  }
  EXPECT_GT(a_rotated, 0);
  EXPECT_GT(b_rotated, 0) << "the two hosts did not run at the same time";

  auto keys = std::move(NewFileKeyManager(tmp.File("keys"), master.Clone(), nullptr).value());
  auto store = std::move(OpenPostgresVolumeStore(conninfo).value());
  auto mapped = NewMappedBackend();
  VolumeServiceOptions o;
  o.keys = keys.get();
  o.store = store.get();
  o.mapped = mapped.get();
  o.host = "h1";
  o.logger = NullLogger();
  auto service = std::move(VolumeService::Create(o).value());
  int unreported = 0;
  for (const auto& [id, old_key] : original) {
    EXPECT_LE(rotated[id], 1) << id << " was rotated twice";
    if (rotated[id] == 0) ++unreported;
    const VolumeRecord v = store->GetVolume(id).value();
    EXPECT_EQ(v.status, VolumeStatus::kAvailable) << id;
    EXPECT_NE(v.encryption_key_id, old_key) << id << " was not rotated";
    EXPECT_GE(v.key_created_at, cutoff) << id;
    EXPECT_TRUE(service->VerifyVolumeKey(id).ok()) << id;
    EXPECT_FALSE(keys->GetKey(old_key).ok()) << id << ": its old key is left";
  }
  // Only the volume host A was killed in, if Reconcile finished it forward,
  // has no 'rotated' line.
  EXPECT_LE(unreported, 1);
  int key_files = 0;
  DIR* d = opendir(tmp.File("keys").c_str());
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() > 4 && name.substr(name.size() - 4) == ".key") ++key_files;
  }
  closedir(d);
  EXPECT_EQ(key_files, kVolumes) << "one key per volume, no orphan";
}

}  // namespace
}  // namespace volcrypt
