// Adversarial scenarios that need no outside service: the CLI against its
// own state directory, files and SQLite database, attacked the way a hostile
// user can (kill -9, hostile bytes, foreign databases, symlink swaps, crafted
// LUKS headers, races). Each test asserts the end state volcrypt promises.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "tests/adversarial/adversary.h"
#include "tests/adversarial/end_state.h"
#include "tests/support/test_support.h"

namespace volcrypt {
namespace testing {
namespace {

constexpr char kSize[] = "16M";

class LocalAdversary : public ::testing::Test {
 protected:
  LocalAdversary() : op_({"--state-dir", tmp_.File("state")}) {}

  Outcome Create(const std::string& id, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"volume", "create", "--path", Vol(id), "--size", kSize,
                                     "--id", id};
    args.insert(args.end(), extra.begin(), extra.end());
    return op_.Run(args);
  }
  std::string Vol(const std::string& name) const { return tmp_.File(name); }
  std::string Status(const std::string& id) const {
    const nlohmann::json j = ParseJson(op_.Run({"volume", "show", id}).out);
    return j.is_object() ? j.value("status", std::string("?")) : "<show failed>";
  }
  uint64_t SizeBytes(const std::string& id) const {
    const nlohmann::json j = ParseJson(op_.Run({"volume", "show", id}).out);
    return j.is_object() ? j.value("size_bytes", uint64_t{0}) : 0;
  }
  EndState End() const {
    EndState e;
    e.op = &op_;
    e.keys_dir = tmp_.File("state/keys");
    return e;
  }
  std::string Sqlite(const std::string& db, const std::string& sql) {
    const Outcome r = RunBounded({"sqlite3", db, sql}, 30);
    EXPECT_EQ(r.exit_code, 0) << "sqlite3 " << sql << ": " << r.err;
    return r.out;
  }

  TempDir tmp_;
  Operator op_;
};

// --- Class 1: a recorded location someone else now owns -------------------

// A create killed as it sizes its file (its key already recorded) leaves
// 'creating' and an empty file, which someone then removes. The path is
// refused to a new create of ours while the record holds it, and when
// another tenant's volcrypt makes a volume there, reconcile's undo must
// leave it alone.
TEST_F(LocalAdversary, UndoOfAnInterruptedCreateLeavesTheNewOwnersFileAlone) {
  ASSERT_EQ(Create("first").exit_code, 0);
  const std::string path = Vol("reused");
  // -P matches the file's descriptor too, however it was opened.
  const std::vector<std::string> argv =
        UnderStrace({"-P", path, "--inject=ftruncate,fallocate:signal=KILL"},
                    op_.Argv({"volume", "create", "--path", path, "--size", kSize,
                              "--id", "a"}));
  ASSERT_EQ(RunBounded(argv, 60).exit_code, 128 + SIGKILL);
  ASSERT_EQ(Status("a"), "creating");
  unlink(path.c_str());  // an admin clears the empty leftover
  const Outcome b = op_.Run({"volume", "create", "--path", path, "--size", kSize, "--id", "b"});
  EXPECT_EQ(b.exit_code, 1) << "the path of the unfinished create of 'a' must be refused";
  if (b.exit_code == 0) op_.Run({"volume", "delete", "b"});  // wrongly made: it goes again

  const Operator other({"--state-dir", tmp_.File("other-state")});
  const Outcome theirs =
      other.Run({"volume", "create", "--path", path, "--size", kSize, "--id", "theirs"});
  ASSERT_EQ(theirs.exit_code, 0) << theirs.err;
  const std::string before = FileContent(path);
  const Outcome rec = op_.Run({"reconcile", "--grace", "0"});
  EXPECT_EQ(rec.exit_code, 0) << rec.err;
  EXPECT_TRUE(FileContent(path) == before)
      << "reconcile undoing a's create "
      << (FileContent(path) == "<missing>" ? "deleted" : "changed") << " " << path
      << ", which another volume now owns";
  EXPECT_EQ(op_.Run({"volume", "show", "a"}).exit_code, 1) << "a's record was not finished";
  EndState mine = End();
  mine.foreign_files[path] = before;
  ExpectEndState(mine);
  EndState their;
  their.op = &other;
  their.keys_dir = tmp_.File("other-state/keys");
  ExpectEndState(their);
}

// --- Class 4: steps no recovery knows ------------------------------------

// kill -9 at each step of `volume extend` (strace delivers SIGKILL as the
// step's system call begins: the resize, then its fsync), then reconcile.
TEST_F(LocalAdversary, KillDuringExtendAtEveryStepIsFinishedByReconcile) {
  constexpr uint64_t kSmall = 16 << 20, kBigger = 32 << 20, kLater = 48 << 20;
  for (const std::string step : {"ftruncate", "fsync,fdatasync"}) {
    SCOPED_TRACE("killed at " + step);
    const std::string id = "ext-" + step.substr(0, 5);  // a volume per step
    ASSERT_EQ(Create(id).exit_code, 0);
    const std::vector<std::string> argv =
        UnderStrace({"-P", Vol(id), "--inject=" + step + ":signal=KILL"},
                    op_.Argv({"volume", "extend", id, std::to_string(kBigger)}));
    const Outcome killed = RunBounded(argv, 60);
    ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << "the extend was not killed mid-step: "
                                               << killed.err;
    const Outcome rec = op_.Run({"reconcile", "--grace", "0"});
    EXPECT_EQ(rec.exit_code, 0) << rec.err;
    EXPECT_EQ(Status(id), "available")
        << "a volume killed during extend must be made available again by reconcile, "
           "not left 'extending' forever";
    const uint64_t now = SizeBytes(id);
    EXPECT_TRUE(now == kSmall || now == kBigger) << "size is " << now;
    EXPECT_EQ(op_.Run({"volume", "verify", id}).exit_code, 0);
    // Later commands on it work.
    const Outcome again = op_.Run({"volume", "extend", id, std::to_string(kLater)});
    EXPECT_EQ(again.exit_code, 0) << "a later extend is refused: " << again.err;
  }
  ExpectEndState(End());
}

// kill -9 between a key file's sealed temp write and its rename: reconcile
// removes the leftover and the half-made volume.
TEST_F(LocalAdversary, KillBetweenKeyTempWriteAndRenameLeavesNoOrphanKey) {
  ASSERT_EQ(Create("first").exit_code, 0);  // the master key exists: the next rename is a key's
  const std::vector<std::string> argv =
        UnderStrace({"--inject=rename,renameat,renameat2:signal=KILL"},
                    op_.Argv({"volume", "create", "--path", Vol("half"), "--size", kSize,
                              "--id", "half"}));
  const Outcome killed = RunBounded(argv, 60);
  ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << killed.err;
  const Outcome rec = op_.Run({"reconcile", "--grace", "0"});
  EXPECT_EQ(rec.exit_code, 0) << rec.err;
  ExpectEndState(End());  // no .tmp-* or key file without a record
}

// --- Class 6: bytes that poison the store ---------------------------------

std::vector<std::pair<std::string, std::string>> HostileValues() {
  return {{"invalid UTF-8", "\xff\xfe"},
          {"control characters", std::string("a\x01\x02\x1b[31mb", 8)},
          {"newline", "line1\nline2"},
          {"NUL-free 10 KB", std::string(10240, 'x')},
          {"quote", "a'; DROP TABLE volumes;--"},
          {"overlong UTF-8", "\xc0\xaf"}};
}

// Each option gets a state dir of its own, so that one option poisoning
// the store does not hide what the next one does.
TEST_F(LocalAdversary, HostileBytesInEveryTextOptionNeverPoisonOtherVolumes) {
  int n = 0;
  for (const std::string& option : std::vector<std::string>
       {"--user-id", "--project-id", "--id", "--cipher", "--host", "--path"}) {
    SCOPED_TRACE(option);
    const std::string state = tmp_.File("state" + option);
    const Operator op({"--state-dir", state});
    const Outcome good = op.Run({"volume", "create", "--path", Vol("good" + option), "--size",
                                 kSize, "--id", "good", "--user-id", "u1", "--project-id", "p1"});
    ASSERT_EQ(good.exit_code, 0) << good.err;
    bool poisoned = false;
    for (const auto& [what, value] : HostileValues()) {
      if (poisoned) break;  // the first poisoning value is this option's report
      SCOPED_TRACE(what);
      const std::string id = "h" + std::to_string(n++);
      // --path: the hostile bytes are the file's name, in our directory.
      const std::string path = option == "--path" ? Vol(id + value) : Vol(id);
      std::vector<std::string> args = {"volume", "create", "--path", path, "--size", kSize};
      if (option != "--id") args.insert(args.end(), {"--id", id});
      if (option == "--host") {
        args.insert(args.begin(), {"--host", value});
      } else if (option != "--path") {
        args.insert(args.end(), {option, value});
      }
      const Outcome r = op.Run(args);
      EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1 || r.exit_code == 2)
          << "exit " << r.exit_code << ": " << Printable(r.err, 300);
      if (r.exit_code != 0) {
        EXPECT_TRUE(IsOneShortLine(r.err))
            << "a refusal must be one line of at most 300 bytes, not echo the hostile "
               "input; got " << r.err.size() << " bytes: " << Printable(r.err, 300);
      }
      const Outcome list = op.Run({"volume", "list"});
      EXPECT_EQ(list.exit_code, 0)
          << "after a hostile " << option << ", `volume list` fails for every volume: "
          << Printable(list.err, 300);
      EXPECT_TRUE(ParseJson(list.out).is_array()) << Printable(list.out, 300);
      const Outcome show = op.Run({"volume", "show", "good"});
      EXPECT_EQ(show.exit_code, 0)
          << "after a hostile " << option << ", `volume show` of ANOTHER volume fails: "
          << Printable(show.err, 300);
      EXPECT_TRUE(ParseJson(show.out).is_object());
      poisoned = list.exit_code != 0 || show.exit_code != 0;
    }
    if (poisoned) continue;
    const Outcome rec = op.Run({"reconcile", "--grace", "0"});
    EXPECT_EQ(rec.exit_code, 0) << Printable(rec.err, 300);
    EndState e;
    e.op = &op;
    e.keys_dir = state + "/keys";
    ExpectEndState(e);
  }
}

TEST_F(LocalAdversary, ErrorsNeverEchoKilobytesOrCarryNewlines) {
  for (const std::string& id : {std::string(10240, 'i'), std::string("a\nb"),
                               std::string("\xff\xfe\n\x1b[2J")}) {
    SCOPED_TRACE(Printable(id, 20));
    for (const std::vector<std::string>& cmd :
         {std::vector<std::string>{"volume", "show", id},
          std::vector<std::string>{"volume", "extend", id, "1G"}}) {
      const Outcome r = op_.Run(cmd);
      EXPECT_NE(r.exit_code, 0);
      EXPECT_TRUE(IsOneShortLine(r.err))
          << cmd[1] << ": the error must be one line of at most 300 bytes; got "
          << r.err.size() << " bytes: " << Printable(r.err, 300);
    }
  }
}

class SchemaAdversary : public LocalAdversary {
 protected:
  void SetUp() override {
    ASSERT_EQ(Create("v").exit_code, 0);
    db_ = tmp_.File("state/volumes.db");
  }
  // Every kind of command fails with exit 1 and one clear line.
  void ExpectEveryCommandRefuses(const std::string& why) {
    for (const std::vector<std::string>& cmd :
         {std::vector<std::string>{"volume", "list"},
          std::vector<std::string>{"volume", "show", "v"},
          std::vector<std::string>{"volume", "verify", "v"},
          std::vector<std::string>{"reconcile", "--grace", "0"},
          std::vector<std::string>{"volume", "create", "--path", Vol("w"), "--size", kSize}}) {
      const Outcome r = op_.Run(cmd);
      EXPECT_EQ(r.exit_code, 1) << why << ": `" << cmd[0] << " " << cmd[1]
                                << "` must fail with exit 1; stderr: " << Printable(r.err, 300);
      EXPECT_TRUE(IsOneShortLine(r.err)) << why << ": " << Printable(r.err, 300);
      // Clear: it names the schema version, and is not an exception's text.
      EXPECT_TRUE(r.err.find("version") != std::string::npos &&
                  r.err.find("internal error") == std::string::npos)
          << why << ": the error must say the schema version is not one this volcrypt "
                    "knows; got: " << Printable(r.err, 300);
    }
  }
  std::string db_;
};

TEST_F(SchemaAdversary, NegativeUserVersionIsRefused) {
  Sqlite(db_, "PRAGMA user_version=-1");
  ExpectEveryCommandRefuses("a database with user_version -1");
  EXPECT_EQ(Sqlite(db_, "PRAGMA user_version"), "-1\n") << "the database was rewritten";
}

TEST_F(SchemaAdversary, NewerUserVersionIsRefused) {
  Sqlite(db_, "PRAGMA user_version=999");
  ExpectEveryCommandRefuses("a database with user_version 999");
  EXPECT_EQ(Sqlite(db_, "PRAGMA user_version"), "999\n");
}

TEST_F(LocalAdversary, AForeignSqliteDatabaseIsRefusedAndLeftUnchanged) {
  const std::string db = tmp_.File("foreign.db");
  Sqlite(db, "CREATE TABLE recipes (name TEXT, steps TEXT); "
             "INSERT INTO recipes VALUES ('bread', 'knead');");
  const std::string before = FileContent(db);
  const Operator foreign({"--state-dir", tmp_.File("state"), "--db", db});
  for (const std::vector<std::string>& cmd :
       {std::vector<std::string>{"volume", "list"},
        std::vector<std::string>{"volume", "create", "--path", Vol("f"), "--size", kSize}}) {
    const Outcome r = foreign.Run(cmd);
    EXPECT_EQ(r.exit_code, 1) << "a foreign SQLite file must be refused, not adopted: `"
                              << cmd[1] << "` exited " << r.exit_code;
    EXPECT_TRUE(IsOneShortLine(r.err)) << Printable(r.err, 300);
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  }
  EXPECT_TRUE(FileContent(db) == before)
      << "the foreign database was changed (volcrypt's tables added): "
      << Sqlite(db, "SELECT name FROM sqlite_master");
  EXPECT_FALSE(access(Vol("f").c_str(), F_OK) == 0) << "a volume file was made anyway";
}

TEST_F(LocalAdversary, ARowWithAnUnknownBackendDoesNotBreakListOrReconcile) {
  ASSERT_EQ(Create("a").exit_code, 0);
  ASSERT_EQ(Create("b").exit_code, 0);
  ASSERT_EQ(Create("c").exit_code, 0);
  Sqlite(tmp_.File("state/volumes.db"), "UPDATE volumes SET backend='tape' WHERE id='b'");
  const Outcome list = op_.Run({"volume", "list"});
  EXPECT_EQ(list.exit_code, 0) << "one bad row must be skipped and reported, not fail "
                                  "`volume list` for every volume: " << list.err;
  const std::string out = list.out;
  EXPECT_NE(out.find("\"id\": \"a\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"id\": \"c\""), std::string::npos) << out;
  EXPECT_EQ(op_.Run({"volume", "show", "a"}).exit_code, 0);
  // A crashed create of another volume that reconcile must still undo.
  const std::vector<std::string> argv =
        UnderStrace({"-P", Vol("d"), "--inject=ftruncate:signal=KILL"},
                    op_.Argv({"volume", "create", "--path", Vol("d"), "--size", kSize,
                              "--id", "d"}));
  ASSERT_EQ(RunBounded(argv, 60).exit_code, 128 + SIGKILL);
  const Outcome rec = op_.Run({"reconcile", "--grace", "0"});
  EXPECT_EQ(rec.exit_code, 0) << "reconcile must work on the other volumes despite one bad "
                                 "row: " << rec.err;
  EXPECT_EQ(op_.Run({"volume", "show", "d"}).exit_code, 1)
      << "reconcile did not undo the interrupted create of d";
  EXPECT_NE(access(Vol("d").c_str(), F_OK), 0) << "d's half-made file is still there";
}

// --- Class 8: core dumps and symlink races ---------------------------------

// A CLI holding a key (`volume passphrase` blocked on a full pipe) must not
// be dumpable. Observable from outside: /proc/PID of a process whose
// dumpable flag is off belongs to root, whoever runs it, so the CLI runs as
// nobody here.
TEST_F(LocalAdversary, TheCliHoldingAKeyIsNotDumpable) {
  if (!IsRoot()) GTEST_SKIP() << "needs root to run the CLI as nobody";
  std::string templ = "/tmp/volcrypt-adv-nobody-XXXXXX";
  ASSERT_NE(mkdtemp(templ.data()), nullptr);
  const std::string dir = templ;
  ASSERT_EQ(chown(dir.c_str(), 65534, 65534), 0);
  auto cleanup = std::shared_ptr<void>(nullptr, [dir](void*) {
    RunBounded({"rm", "-rf", dir}, 30);
  });
  const std::vector<std::string> as_nobody = {"setpriv", "--reuid=65534", "--regid=65534",
                                              "--clear-groups", CliPath(), "--state-dir",
                                              dir + "/state"};
  std::vector<std::string> create = as_nobody;
  create.insert(create.end(), {"volume", "create", "--path", dir + "/v", "--size", kSize,
                               "--id", "v"});
  const Outcome made = RunBounded(create, 60);
  ASSERT_EQ(made.exit_code, 0) << made.err;

  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
  const std::string fill(4096, 'z');
  while (write(fds[1], fill.data(), fill.size()) > 0) {
  }
  fcntl(fds[1], F_SETFL, 0);  // the CLI's write blocks: it sits with the key
  std::vector<std::string> argv = as_nobody;
  argv.insert(argv.end(), {"volume", "passphrase", "v"});
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  bool blocked = false;
  for (int i = 0; i < 500 && !blocked; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    // "pipe_write", or "anon_pipe_write" on newer kernels.
    blocked = FileContent("/proc/" + std::to_string(pid) + "/wchan").find("pipe_write") !=
              std::string::npos;
  }
  struct stat st = {};
  const int stat_rc = stat(("/proc/" + std::to_string(pid) + "/status").c_str(), &st);
  kill(pid, SIGKILL);
  WaitForExit(pid);
  close(fds[0]);
  ASSERT_TRUE(blocked) << "the CLI never blocked writing the passphrase";
  ASSERT_EQ(stat_rc, 0);
  EXPECT_EQ(st.st_uid, 0u)
      << "/proc/PID of the CLI (running as nobody, holding a key) belongs to uid "
      << st.st_uid << ": the process is dumpable, so a core dump would hold the key "
                      "(PR_SET_DUMPABLE 0 expected)";
}

// The volume's path is swapped for a symlink to a file the attacker wants
// destroyed, between volcrypt's check of the path and its open (strace
// holds each stat of the path for 0.8 s; the swap lands in that window).
TEST_F(LocalAdversary, SymlinkSwappedInDuringCreateNeverFormatsItsTarget) {
  const std::string victim = Vol("victim");
  WriteMarkedFile(victim, "precious data, not a volume", 64 << 20);
  const std::string before = FileContent(victim);
  const std::string path = Vol("swap");
  const std::vector<std::string> argv =
        UnderStrace({"-P", path, "--inject=newfstatat,lstat,stat,statx:delay_exit=800000"},
                    op_.Argv({"volume", "create", "--path", path, "--size", kSize,
                              "--id", "swap"}));
  Background create(argv);
  // Wait for volcrypt to make the file, then swap it while it is held.
  struct stat st;
  for (int i = 0; i < 1000 && lstat(path.c_str(), &st) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(symlink(victim.c_str(), Vol("link").c_str()), 0);
  ASSERT_EQ(rename(Vol("link").c_str(), path.c_str()), 0);
  const Outcome r = create.Wait(120);
  EXPECT_FALSE(r.timed_out);
  EXPECT_TRUE(FileContent(victim) == before)
      << "the symlink's target was LUKS-formatted or changed (create exited " << r.exit_code
      << "): volume files must be opened with O_NOFOLLOW, through the fd that was checked";
  // No end-state check of 'swap': the attacker replaced its file, so it
  // cannot verify whatever volcrypt does; the promise is the victim's.
}

// --- Class 9: smaller ------------------------------------------------------

TEST_F(LocalAdversary, EightParallelFirstCreatesInAFreshStateDirAllSucceed) {
  // The race made certain: each create's first look at master.key (not
  // there yet) returns 1 s late (strace), so all eight have seen "no master
  // key" before any of them makes one.
  std::vector<std::unique_ptr<Background>> runs;
  for (int i = 0; i < 8; ++i) {
    const std::string id = "p" + std::to_string(i);
    const std::vector<std::string> argv =
        UnderStrace({"-P", tmp_.File("state/master.key"),
                     "--inject=open,openat:delay_exit=1000000:when=1"},
                    op_.Argv({"volume", "create", "--path", Vol(id), "--size", kSize, "--id", id}));
    runs.push_back(std::make_unique<Background>(argv));
  }
  for (int i = 0; i < 8; ++i) {
    const Outcome r = runs[static_cast<size_t>(i)]->Wait(120);
    EXPECT_EQ(r.exit_code, 0) << "parallel first create p" << i << " failed: " << r.err;
  }
  for (int i = 0; i < 8; ++i) {
    const Outcome v = op_.Run({"volume", "verify", "p" + std::to_string(i)});
    EXPECT_EQ(v.exit_code, 0) << "p" << i << ": " << v.err;
  }
  ExpectEndState(End());
}

TEST_F(LocalAdversary, ReconcileGraceMustBeANonNegativeNumber) {
  for (const std::string grace : {"abc", "", "-5", "10s", "1e3"}) {
    const Outcome r = op_.Run({"reconcile", "--grace", grace});
    EXPECT_EQ(r.exit_code, 2) << "--grace '" << grace << "' must be a usage error, not "
                                 "taken as 0 (which undoes creates in flight)";
  }
  EXPECT_EQ(op_.Run({"reconcile", "--grace", "0"}).exit_code, 0);
}

// LUKS1 phdr fields (big-endian u32): payloadOffset (sectors) at 104,
// mk-digest-iter at 164.
void PatchU32(const std::string& path, off_t at, uint32_t value) {
  const unsigned char be[4] = {static_cast<unsigned char>(value >> 24),
                               static_cast<unsigned char>(value >> 16),
                               static_cast<unsigned char>(value >> 8),
                               static_cast<unsigned char>(value)};
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, be, 4, at), 4);
  close(fd);
}

TEST_F(LocalAdversary, CraftedPayloadOffsetIsRefusedNotCopied) {
  ASSERT_EQ(Create("big", {"--size", "1G"}).exit_code, 0);
  struct stat st;
  ASSERT_EQ(stat(Vol("big").c_str(), &st), 0);
  PatchU32(Vol("big"), 104, static_cast<uint32_t>(st.st_size / 512 - 8));
  // verify checks a header against its record: a payload that leaves less
  // than the recorded size is refused.
  const Outcome verify = op_.Run({"volume", "verify", "big"}, 20);  // a hang guard
  EXPECT_FALSE(verify.timed_out) << "verify still running after 20 s";
  EXPECT_EQ(verify.exit_code, 1) << "a payload offset near the end of the volume must be "
                                    "refused, not copied; exit " << verify.exit_code;
  EXPECT_TRUE(IsOneShortLine(verify.err)) << Printable(verify.err, 300);
  // inspect reports a well-formed header's facts, but reads only the header
  // itself, never up to the payload (bounded header parsing): it ends at
  // once and says where the payload starts.
  const Outcome inspect = op_.Run({"luks", "inspect", Vol("big")}, 20);
  EXPECT_FALSE(inspect.timed_out) << "inspect still running after 20 s";
  EXPECT_TRUE(inspect.exit_code == 0 || IsOneShortLine(inspect.err))
      << Printable(inspect.err, 300);
}

TEST_F(LocalAdversary, CraftedDigestIterationCountFailsFast) {
  ASSERT_EQ(Create("iter").exit_code, 0);
  PatchU32(Vol("iter"), 164, 0xFFFFFFFFu);
  const Outcome r = op_.Run({"volume", "verify", "iter"}, 20);  // hang guard
  EXPECT_FALSE(r.timed_out) << "verify spent 20 s on a digest iteration count of 0xFFFFFFFF: "
                               "digest checks need an iteration cap or a timeout";
  EXPECT_EQ(r.exit_code, 1) << r.err;
}

TEST_F(LocalAdversary, ATruncatedHeaderIsNotReportedAsAnIoError) {
  // Cut inside the LUKS1 phdr (592 bytes), and inside the key material.
  for (const off_t size : {off_t{512}, off_t{8192}}) {
  const std::string id = "trunc" + std::to_string(size);
  ASSERT_EQ(Create(id).exit_code, 0);
  ASSERT_EQ(truncate(Vol(id).c_str(), size), 0);
  for (const std::vector<std::string>& cmd :
       {std::vector<std::string>{"volume", "verify", id},
        std::vector<std::string>{"luks", "inspect", Vol(id)}}) {
    SCOPED_TRACE(id);
    const Outcome r = op_.Run(cmd, 20);
    EXPECT_EQ(r.exit_code, 1) << cmd[1];
    EXPECT_EQ(r.err.find("Input/output error"), std::string::npos)
        << cmd[1] << ": a truncated header is not an I/O error: " << r.err;
    EXPECT_TRUE(IsOneShortLine(r.err)) << Printable(r.err, 300);
  }
  }
}

}  // namespace
}  // namespace testing
}  // namespace volcrypt
