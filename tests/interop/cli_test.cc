// The volcrypt CLI as an operator runs it: exit codes, JSON, and a scan of
// everything it prints or leaves on disk for the key's bytes.
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "tests/support/test_support.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/luks.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::CommandResult;
using ::volcrypt::testing::ReadFileOrDie;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::TempDir;
using ::volcrypt::testing::WaitForExit;

std::string Cli() {
  const char* path = std::getenv("VOLCRYPT_CLI");
  return path ? path : "volcrypt";
}

class CliTest : public ::testing::Test {
 protected:
  CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {Cli(), "--state-dir", tmp_.File("state")});
    CommandResult r = RunCommand(args);
    transcript_ += r.out + r.err;
    return r;
  }
  std::string Vol(const std::string& name) { return tmp_.File(name); }

  // Writes `key` as castellan's fixed_key config value (hex), 0600.
  std::string WriteFixedKeyFile(const SecretBytes& key) {
    const std::string path = tmp_.File("fixed_key");
    std::ofstream out(path);
    const SecretBytes hex = HexPassphrase(key);
    out << std::string(hex.char_data(), hex.size()) << "\n";
    out.close();
    chmod(path.c_str(), 0600);
    return path;
  }

  // Every form a key could leak in.
  static std::vector<std::string> Forms(const SecretBytes& key) {
    const std::string raw(key.char_data(), key.size());
    const SecretBytes hex = HexPassphrase(key);
    std::string upper(hex.char_data(), hex.size());
    for (char& c : upper) c = static_cast<char>(std::toupper(c));
    return {raw, std::string(hex.char_data(), hex.size()), upper,
            absl::Base64Escape(raw)};
  }

  // Fails if any form of `key` is in `text`.
  static void ExpectNoKeyIn(const std::string& text, const SecretBytes& key,
                            const std::string& where) {
    for (const std::string& form : Forms(key)) {
      EXPECT_EQ(text.find(form), std::string::npos) << "key bytes found in " << where;
    }
  }

  TempDir tmp_;
  std::string transcript_;
};

// Starts the CLI with `args`, its stdout on `out_fd`, its stderr on
// `err_fd`, SIGPIPE at its default (as a shell leaves it), and as user
// `uid` if not -1. With a `gate` fd, it starts only once it has read a byte
// from it, so that several start at the same moment. Returns its pid.
pid_t SpawnCli(const std::vector<std::string>& args, int out_fd, int err_fd,
               uid_t uid = static_cast<uid_t>(-1), int gate = -1) {
  std::vector<std::string> argv = args;
  argv.insert(argv.begin(), Cli());
  std::vector<char*> raw;
  for (std::string& a : argv) raw.push_back(a.data());
  raw.push_back(nullptr);
  const pid_t pid = fork();
  if (pid != 0) return pid;
  signal(SIGPIPE, SIG_DFL);
  char byte;
  if (gate >= 0 && read(gate, &byte, 1) != 1) _exit(125);
  dup2(out_fd, STDOUT_FILENO);
  dup2(err_fd, STDERR_FILENO);
  if (uid != static_cast<uid_t>(-1) &&
      (setgroups(0, nullptr) != 0 || setgid(uid) != 0 || setuid(uid) != 0)) {
    _exit(126);
  }
  execv(raw[0], raw.data());
  _exit(127);
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

TEST_F(CliTest, ClosedStdoutIsAnErrorWithAMessageNotADeathBySigpipe) {
  ASSERT_EQ(Run({"volume", "create", "--path", Vol("v1"), "--size", "64M", "--id", "v1"})
                .exit_code, 0);
  int out[2], err[2];
  ASSERT_EQ(pipe(out), 0);
  ASSERT_EQ(pipe(err), 0);
  close(out[0]);  // nobody reads: as `volcrypt volume list | head -c0`
  const pid_t pid = SpawnCli({"--state-dir", tmp_.File("state"), "volume", "list"},
                             out[1], err[1]);
  close(out[1]);
  close(err[1]);
  const std::string stderr_text = ReadAll(err[0]);
  close(err[0]);
  EXPECT_EQ(WaitForExit(pid), 1);
  EXPECT_EQ(stderr_text, "volcrypt: cannot write standard output: Broken pipe\n");
}

// A non-dumpable process's /proc files belong to root whoever runs it, so
// another user's debugger or core dump cannot reach its secrets.
TEST_F(CliTest, RunsNonDumpable) {
  constexpr uid_t kNobody = 65534;
  ASSERT_EQ(chmod(tmp_.path().c_str(), 0711), 0);
  const std::string fifo = tmp_.File("fixed_key");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(chown(fifo.c_str(), kNobody, kNobody), 0);
  const int devnull = open("/dev/null", O_WRONLY);
  ASSERT_GE(devnull, 0);
  // Blocks opening the FIFO for its fixed key until we let it go. (Not
  // `volume list` or `show`: they read only the database, no key.)
  const pid_t pid = SpawnCli({"--fixed-key-file", fifo, "--db", tmp_.File("v.db"),
                              "volume", "verify", "v"},
                             devnull, devnull, kNobody);
  close(devnull);
  const std::string proc = "/proc/" + std::to_string(pid);
  bool blocked = false;
  for (int i = 0; i < 1000 && !blocked; ++i) {
    std::ifstream wchan(proc + "/wchan");
    std::string where;
    // The kernel's name for a FIFO open waiting for a writer.
    blocked = std::getline(wchan, where) &&
              (where == "wait_for_partner" || where == "fifo_open");
    if (!blocked) usleep(10000);
  }
  struct stat st;
  const int stat_result = stat((proc + "/environ").c_str(), &st);
  kill(pid, SIGKILL);
  WaitForExit(pid);
  ASSERT_TRUE(blocked) << "the CLI never reached its fixed key file";
  ASSERT_EQ(stat_result, 0);
  EXPECT_EQ(st.st_uid, 0u) << "the CLI is dumpable";
}

TEST_F(CliTest, ParallelFirstCreatesInAFreshStateDirAllSucceed) {
  constexpr int kCreates = 8;
  struct Child {
    pid_t pid;
    int err;
  };
  std::vector<Child> children;
  const int devnull = open("/dev/null", O_WRONLY);
  ASSERT_GE(devnull, 0);
  int gate[2];
  ASSERT_EQ(pipe(gate), 0);
  for (int i = 0; i < kCreates; ++i) {
    int err[2];
    ASSERT_EQ(pipe(err), 0);
    const std::string id = "v" + std::to_string(i);
    children.push_back({SpawnCli({"--state-dir", tmp_.File("state"), "volume", "create",
                                  "--path", Vol(id), "--size", "16M", "--id", id},
                                 devnull, err[1], static_cast<uid_t>(-1), gate[0]),
                        err[0]});
    close(err[1]);
  }
  close(devnull);
  const std::string go(kCreates, 'g');  // all start now
  ASSERT_EQ(write(gate[1], go.data(), go.size()), kCreates);
  close(gate[0]);
  close(gate[1]);
  for (const Child& c : children) {
    const std::string err = ReadAll(c.err);
    close(c.err);
    EXPECT_EQ(WaitForExit(c.pid), 0) << err;
  }
  for (int i = 0; i < kCreates; ++i) {
    CommandResult r = Run({"volume", "verify", "v" + std::to_string(i)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
}

TEST_F(CliTest, NumericOptionsAreParsedStrictly) {
  for (const std::string bad : {"abc", "", "-5", "1e3", " 5", "5s", "99999999999999999999"}) {
    CommandResult r = Run({"reconcile", "--grace", bad});
    EXPECT_EQ(r.exit_code, 2) << "--grace '" << bad << "'";
    EXPECT_NE(r.err.find("--grace"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  CommandResult r = Run({"reconcile", "--grace", std::string(10000, '7')});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_LT(r.err.size(), 200u) << "echoes the whole value";
  EXPECT_EQ(Run({"reconcile", "--grace", "0"}).exit_code, 0);
  r = Run({"keys", "migrate", "--fixed-key-file", tmp_.File("none"), "--keys", tmp_.File("k"),
           "--master-key", tmp_.File("m"), "--max-errors", "+3"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--max-errors"), std::string::npos) << r.err;
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(RunCommand({Cli()}).exit_code, 2);
  EXPECT_EQ(Run({"volume", "create", "--size", "64M"}).exit_code, 2);
  EXPECT_EQ(Run({"volume", "create", "--path", Vol("a"), "--size", "lots"}).exit_code, 2);
  EXPECT_EQ(Run({"volume", "create", "--path", Vol("a"), "--size", "64M", "--format", "luks3"}).exit_code, 2);
  EXPECT_EQ(Run({"--bogus", "1", "volume", "list"}).exit_code, 2);
  EXPECT_EQ(Run({"frobnicate"}).exit_code, 2);
  CommandResult r = Run({"volume", "show"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("needs a volume id"), std::string::npos);
  EXPECT_EQ(RunCommand({Cli(), "help"}).exit_code, 0);
}

TEST_F(CliTest, FailuresExitOneWithOneLineNamingWhatFailed) {
  CommandResult r = Run({"volume", "show", "nope"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "volcrypt: volume show nope: volume nope not found\n");
  ASSERT_EQ(Run({"volume", "create", "--path", Vol("a"), "--size", "64M", "--id", "a"}).exit_code, 0);
  r = Run({"volume", "create", "--path", Vol("a"), "--size", "64M"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("already exists"), std::string::npos);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
}

TEST_F(CliTest, CreateShowsCinderFieldsAndTheDefaultsArePrivate) {
  CommandResult r = Run({"volume", "create", "--backend", "mapped", "--path", Vol("v1"),
                         "--size", "64M", "--id", "v1", "--user-id", "u1", "--project-id", "p1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"encryption_key_id\": \""), std::string::npos);
  EXPECT_NE(r.out.find("\"status\": \"available\""), std::string::npos);
  EXPECT_NE(r.out.find("\"provider\": \"luks\""), std::string::npos);
  EXPECT_NE(r.out.find("\"project_id\": \"p1\""), std::string::npos);
  struct stat st;
  ASSERT_EQ(stat(tmp_.File("state/master.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(tmp_.File("state/volumes.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(tmp_.File("state").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  r = Run({"volume", "list"});
  EXPECT_NE(r.out.find("\"id\": \"v1\""), std::string::npos);
  r = Run({"luks", "inspect", Vol("v1")});
  EXPECT_NE(r.out.find("\"payload_bytes\": 67108864"), std::string::npos) << r.out;
}

TEST_F(CliTest, NothingEmittedHoldsTheKey_FileKeyManager) {
  ASSERT_EQ(Run({"volume", "create", "--path", Vol("v1"), "--size", "64M", "--id", "v1"}).exit_code, 0);
  ASSERT_EQ(Run({"volume", "create", "--path", Vol("v2"), "--size", "64M", "--id", "v2",
                 "--defer-format"}).exit_code, 0);
  Run({"volume", "show", "v1"});
  Run({"volume", "list"});
  Run({"attach-xml", "v1"});
  Run({"attach-xml", "v2", "--target", "sdc", "--ephemeral"});
  Run({"volume", "verify", "v1"});
  Run({"volume", "extend", "v1", "128M"});
  Run({"volume", "extend", "v1", "1M"});
  Run({"luks", "inspect", Vol("v1")});
  Run({"volume", "create", "--path", Vol("v1"), "--size", "64M"});

  auto keys = NewFileKeyManager(tmp_.File("state/keys"),
                                ReadMasterKeyFile(tmp_.File("state/master.key")).value(),
                                nullptr);
  ASSERT_TRUE(keys.ok());
  std::vector<SecretBytes> all_keys;
  all_keys.push_back(ReadMasterKeyFile(tmp_.File("state/master.key")).value());
  DIR* d = opendir(tmp_.File("state/keys").c_str());
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() == 40 && name.substr(36) == ".key") {
      all_keys.push_back((*keys)->GetKey(name.substr(0, 36)).value());
    }
  }
  closedir(d);
  ASSERT_EQ(all_keys.size(), 3u);

  Run({"volume", "delete", "v2"});
  Run({"volume", "delete", "v1"});
  const std::string db = ReadFileOrDie(tmp_.File("state/volumes.db"));
  for (const SecretBytes& key : all_keys) {
    ExpectNoKeyIn(transcript_, key, "the CLI's output");
    ExpectNoKeyIn(db, key, "the volume database");
  }
}

TEST_F(CliTest, NothingEmittedHoldsTheKey_FixedKey) {
  const SecretBytes key = SecretBytes::Random(32).value();
  const std::string key_file = WriteFixedKeyFile(key);
  const std::vector<std::string> km = {"--fixed-key-file", key_file, "--db", tmp_.File("fixed.db")};
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), km.begin(), km.end());
    return Run(args);
  };
  CommandResult r = run({"volume", "create", "--path", Vol("f1"), "--size", "64M", "--id", "f1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("00000000-0000-0000-0000-000000000000"), std::string::npos);
  run({"attach-xml", "f1"});
  run({"volume", "verify", "f1"});
  run({"volume", "delete", "f1"});
  run({"volume", "show", "f1"});
  ExpectNoKeyIn(transcript_, key, "the CLI's output");
  ExpectNoKeyIn(ReadFileOrDie(tmp_.File("fixed.db")), key, "the volume database");
  // The insecure fixed key is announced, as castellan does.
  EXPECT_NE(transcript_.find("insecure"), std::string::npos);
}

// keys migrate into the file key manager (no server): usage errors first,
// then a dry run, the run, and the volume opening with its new key; nothing
// printed holds the fixed key.
TEST_F(CliTest, KeysMigrateMovesVolumesOffTheFixedKey) {
  const SecretBytes key = SecretBytes::Random(32).value();
  const std::string key_file = WriteFixedKeyFile(key);
  const std::string db = tmp_.File("migrate.db");
  ASSERT_EQ(Run({"--fixed-key-file", key_file, "--db", db, "--host", "h1", "volume", "create",
                 "--path", Vol("m1"), "--size", "1M", "--id", "m1"}).exit_code, 0);
  const std::vector<std::string> migrate = {"--db", db, "keys", "migrate", "--fixed-key-file",
                                            key_file, "--host", "h1"};
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = migrate;
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  };
  EXPECT_EQ(run({}).exit_code, 2);  // no destination
  EXPECT_EQ(run({"--keys", tmp_.File("k"), "--max-errors", "many"}).exit_code, 2);
  CommandResult dry = run({"--keys", tmp_.File("k"), "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.out.rfind("would-migrate volume m1\n", 0), 0u) << dry.out;
  CommandResult r = run({"--keys", tmp_.File("k")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("migrated volume m1 key ", 0), 0u) << r.out;
  EXPECT_NE(r.err.find("INFO: Migrating volume m1 encryption key to the file key manager"),
            std::string::npos) << r.err;
  CommandResult verify = Run({"--db", db, "--keys", tmp_.File("k"), "volume", "verify", "m1"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  ExpectNoKeyIn(transcript_, key, "the CLI's output");
}

TEST_F(CliTest, KeysMigrateRekeyLeavesNoVolumeOpeningWithTheFixedKey) {
  const SecretBytes key = SecretBytes::Random(32).value();
  const std::string key_file = WriteFixedKeyFile(key);
  const std::string db = tmp_.File("migrate.db");
  for (const char* id : {"m1", "m2"}) {
    ASSERT_EQ(Run({"--fixed-key-file", key_file, "--db", db, "--host", "h1", "volume", "create",
                   "--path", Vol(id), "--size", "1M", "--id", id}).exit_code, 0);
  }
  const std::vector<std::string> migrate = {"--db", db, "keys", "migrate", "--fixed-key-file",
                                            key_file, "--host", "h1", "--keys", tmp_.File("k"),
                                            "--rekey"};
  CommandResult r = Run(migrate);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("rotated volume m1 key "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rotated volume m2 key "), std::string::npos) << r.out;
  const SecretBytes fixed_pass = HexPassphrase(key);
  std::vector<std::string> passes;
  for (const char* id : {"m1", "m2"}) {
    EXPECT_EQ(RunCommand({"cryptsetup", "open", "--test-passphrase", "--key-file", "/dev/fd/3",
                          Vol(id)}, &fixed_pass).exit_code, 2)
        << id << " still opens with the fixed key";
    CommandResult pass = Run({"--db", db, "--keys", tmp_.File("k"), "volume", "passphrase", id});
    ASSERT_EQ(pass.exit_code, 0) << pass.err;
    passes.push_back(pass.out);
    EXPECT_EQ(Run({"--db", db, "--keys", tmp_.File("k"), "volume", "verify", id}).exit_code, 0);
  }
  EXPECT_NE(passes[0], passes[1]) << "the volumes share a key";
  // A rerun finds nothing left on the fixed key's bytes.
  CommandResult again = Run(migrate);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("h1: 0 rotated, 0 failed, 0 skipped"), std::string::npos) << again.out;
  EXPECT_EQ(Run({"--db", db, "keys", "migrate", "--host", "h1", "--keys", tmp_.File("k"),
                 "--rekey"}).exit_code, 2) << "--rekey without the fixed key";
}

TEST_F(CliTest, PassphraseGoesToAPipeAndOpensTheVolume) {
  ASSERT_EQ(Run({"volume", "create", "--path", Vol("v1"), "--size", "64M", "--id", "v1"}).exit_code, 0);
  CommandResult r = Run({"volume", "passphrase", "v1"});  // stdout is a file here
  ASSERT_EQ(r.exit_code, 0);
  ASSERT_EQ(r.out.size(), 64u);
  SecretBytes pass = SecretBytes::CopyOf(r.out.data(), r.out.size());
  EXPECT_EQ(*luks::VerifyPassphrase(Vol("v1"), pass), 0);
}

TEST_F(CliTest, RekeyRecordsANewKeyAndOnlyItsPassphraseOpensTheVolume) {
  ASSERT_EQ(Run({"volume", "create", "--path", Vol("v1"), "--size", "8M", "--id", "v1"}).exit_code, 0);
  auto passphrase = [&]() {
    CommandResult r = Run({"volume", "passphrase", "v1"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return SecretBytes::CopyOf(r.out.data(), r.out.size());
  };
  const SecretBytes old_pass = passphrase();
  const std::string before = Run({"volume", "show", "v1"}).out;
  CommandResult r = Run({"volume", "rekey", "v1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"status\": \"available\""), std::string::npos) << r.out;
  EXPECT_EQ(r.out, Run({"volume", "show", "v1"}).out);
  EXPECT_NE(r.out, before) << "the key id did not change";
  const SecretBytes new_pass = passphrase();
  auto opens = [&](const SecretBytes& pass) {
    return RunCommand({"cryptsetup", "open", "--test-passphrase", "--key-file", "/dev/fd/3",
                       Vol("v1")}, &pass).exit_code;
  };
  EXPECT_EQ(opens(new_pass), 0);
  EXPECT_EQ(opens(old_pass), 2) << "cryptsetup still accepts the old passphrase";
  EXPECT_EQ(Run({"volume", "verify", "v1"}).exit_code, 0);
  EXPECT_EQ(Run({"volume", "rekey"}).exit_code, 2);
  CommandResult missing = Run({"volume", "rekey", "nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "volcrypt: volume rekey nope: volume nope not found\n");
}

TEST_F(CliTest, ExplicitKeyDirectoryAndHexMasterKey) {
  const std::string master = tmp_.File("master.hex");
  {
    std::ofstream out(master);
    out << std::string(64, 'a') << "\n";
  }
  chmod(master.c_str(), 0600);
  CommandResult r = RunCommand({Cli(), "--db", tmp_.File("x.db"), "--keys", tmp_.File("k"),
                                "--master-key", master, "volume", "create", "--path",
                                Vol("x"), "--size", "8M", "--id", "x"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  chmod(master.c_str(), 0644);
  r = RunCommand({Cli(), "--db", tmp_.File("x.db"), "--keys", tmp_.File("k"),
                  "--master-key", master, "volume", "verify", "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("chmod 600"), std::string::npos);
}

// `volume list` and `volume show` read only the database (issue #16: the
// key manager's master-key unseal was a third of a `show` process): a fresh
// state directory gets a database but no master key, and a key manager
// that cannot be opened does not stop them; `verify`, which needs keys, does.
TEST_F(CliTest, ListAndShowOpenNoKeyManager) {
  CommandResult list = Run({"volume", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out, "[]\n");
  struct stat st;
  EXPECT_EQ(stat(tmp_.File("state/volumes.db").c_str(), &st), 0);
  EXPECT_NE(stat(tmp_.File("state/master.key").c_str(), &st), 0) << "list made a master key";
  ASSERT_EQ(Run({"volume", "create", "--path", Vol("a"), "--size", "64M", "--id", "a"}).exit_code,
            0);
  const std::string missing = tmp_.File("no-such-master.key");
  CommandResult show = Run({"--master-key", missing, "volume", "show", "a"});
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("\"id\": \"a\""), std::string::npos) << show.out;
  CommandResult verify = Run({"--master-key", missing, "volume", "verify", "a"});
  EXPECT_EQ(verify.exit_code, 1) << "verify ran without its key manager";
}

}  // namespace
}  // namespace volcrypt
