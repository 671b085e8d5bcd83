// `volcrypt volume manage` / `volume unmanage` as an operator runs them, on
// volumes cryptsetup made: exit codes, JSON, one-line errors, nothing
// recorded on refusal, and no secret in anything printed.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/test_support.h"
#include "volcrypt/luks.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::CommandResult;
using ::volcrypt::testing::MakeSparseFile;
using ::volcrypt::testing::ReadFileOrDie;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::TempDir;

constexpr char kPassphrase[] = "a passphrase someone typed in 2019";
constexpr uint64_t kRaw = 64ull << 20;

std::string Cli() {
  const char* path = std::getenv("VOLCRYPT_CLI");
  return path ? path : "volcrypt";
}

SecretBytes Bytes(const std::string& s) { return SecretBytes::CopyOf(s.data(), s.size()); }

class ManageCliTest : public ::testing::Test {
 protected:
  CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {Cli(), "--state-dir", tmp_.File("state")});
    CommandResult r = RunCommand(args);
    transcript_ += r.out + r.err;
    return r;
  }

  // A LUKS1 file cryptsetup made with `secret` as its passphrase.
  std::string CryptsetupVolume(const std::string& name, const SecretBytes& secret) {
    const std::string path = tmp_.File(name);
    MakeSparseFile(path, kRaw);
    CommandResult r = RunCommand({"cryptsetup", "luksFormat", "--batch-mode", "--type", "luks1",
                                  "--pbkdf-force-iterations", "1000", "--key-file",
                                  "/dev/fd/3", path},
                                 &secret);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return path;
  }

  // A file only its owner may read, holding `secret` as it is.
  std::string SecretFile(const std::string& name, const SecretBytes& secret,
                         mode_t mode = 0600) {
    const std::string path = tmp_.File(name);
    const int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY, mode);
    EXPECT_EQ(write(fd, secret.data(), secret.size()), static_cast<ssize_t>(secret.size()));
    close(fd);
    chmod(path.c_str(), mode);
    return path;
  }

  size_t Volumes() {
    CommandResult r = Run({"volume", "list"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out).size();
  }

  void ExpectOneLine(const CommandResult& r) {
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
    EXPECT_LT(r.err.size(), 400u) << r.err;
  }

  TempDir tmp_;
  std::string transcript_;
};

TEST_F(ManageCliTest, ManagesAPassphraseVolumeVerifiesItAndUnmanagesItIntact) {
  const std::string path = CryptsetupVolume("by-hand", Bytes(kPassphrase));
  const std::string before = ReadFileOrDie(path);
  CommandResult r = Run({"volume", "manage", "--path", path, "--passphrase-file",
                         SecretFile("pass", Bytes(kPassphrase)), "--id", "v1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json v = nlohmann::json::parse(r.out);
  EXPECT_EQ(v["status"], "available");
  EXPECT_EQ(v["key_format"], "passphrase");
  EXPECT_EQ(v["encrypted"], true);
  // cryptsetup's own LUKS1 offset (2 MiB for this key size), not volcrypt's.
  EXPECT_EQ(v["size_bytes"], kRaw - luks::Inspect(path)->payload_offset_bytes);
  EXPECT_EQ(Run({"volume", "verify", "v1"}).exit_code, 0);
  const std::string out = tmp_.File("passphrase.out");
  CommandResult p = RunCommand({"sh", "-c", Cli() + " --state-dir " + tmp_.File("state") +
                                                " volume passphrase v1 > " + out});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(ReadFileOrDie(out), kPassphrase);  // as it is, never hexed
  EXPECT_EQ(Run({"volume", "unmanage", "v1"}).exit_code, 0);
  EXPECT_EQ(Volumes(), 0u);
  EXPECT_EQ(ReadFileOrDie(path), before);
  EXPECT_EQ(transcript_.find(kPassphrase), std::string::npos) << "the passphrase was printed";
}

TEST_F(ManageCliTest, AWrongPassphraseIsOneLineAndRecordsNothing) {
  const std::string path = CryptsetupVolume("by-hand", Bytes(kPassphrase));
  const std::string wrong = "not the passphrase, but long enough";
  CommandResult r = Run({"volume", "manage", "--path", path, "--passphrase-file",
                         SecretFile("pass", Bytes(wrong))});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("opens no keyslot"), std::string::npos) << r.err;
  ExpectOneLine(r);
  EXPECT_EQ(Volumes(), 0u);
  EXPECT_EQ(transcript_.find(wrong), std::string::npos);
}

TEST_F(ManageCliTest, KeyFilesOthersMayReadAreRefused) {
  const std::string path = CryptsetupVolume("by-hand", Bytes(kPassphrase));
  CommandResult r = Run({"volume", "manage", "--path", path, "--passphrase-file",
                         SecretFile("pass", Bytes(kPassphrase), 0644)});
  EXPECT_EQ(r.exit_code, 1);
  ExpectOneLine(r);
  EXPECT_EQ(Volumes(), 0u);
}

TEST_F(ManageCliTest, OneKindOfKeyIsRequired) {
  const std::string path = CryptsetupVolume("by-hand", Bytes(kPassphrase));
  EXPECT_EQ(Run({"volume", "manage", "--path", path}).exit_code, 2);
  EXPECT_EQ(Run({"volume", "manage", "--path", path, "--unencrypted", "--key-id",
                 "00000000-0000-0000-0000-000000000000"})
                .exit_code,
            2);
  EXPECT_EQ(Run({"volume", "manage", "--unencrypted"}).exit_code, 2);
  EXPECT_EQ(Volumes(), 0u);
}

TEST_F(ManageCliTest, APlainVolumeShowsUnencryptedAndALuksOneIsNotPlain) {
  const std::string plain = tmp_.File("plain");
  MakeSparseFile(plain, kRaw);
  CommandResult r = Run({"volume", "manage", "--path", plain, "--unencrypted", "--id", "p1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  CommandResult show = Run({"volume", "show", "p1"});
  ASSERT_EQ(show.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(show.out)["encrypted"], false);
  EXPECT_NE(Run({"attach-xml", "p1"}).exit_code, 0);
  const std::string luks = CryptsetupVolume("luks", Bytes(kPassphrase));
  r = Run({"volume", "manage", "--path", luks, "--unencrypted"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("holds a LUKS header"), std::string::npos) << r.err;
  EXPECT_EQ(Volumes(), 1u);
}

// cinder's fixed-key volumes (castellan's ConfKeyManager, the all-zeros key
// id): managed with that id, then moved off the fixed key by keys migrate.
TEST_F(ManageCliTest, AFixedKeyCinderVolumeIsManagedThenMigratedOffTheFixedKey) {
  const SecretBytes key = SecretBytes::Random(32).value();
  const SecretBytes hex = HexPassphrase(key);
  const std::string key_file = tmp_.File("fixed_key");
  {
    std::ofstream out(key_file);
    out << std::string(hex.char_data(), hex.size()) << "\n";
  }
  chmod(key_file.c_str(), 0600);
  const std::string path = tmp_.File("cinder.luks");
  CommandResult made;
  for (int attempt = 0; attempt < 8 && made.exit_code != 0; ++attempt) {  // qemu-img's PBKDF timer
    made = RunCommand({"qemu-img", "create", "-f", "luks", "--object",
                       "secret,id=s0,file=/dev/fd/3", "-o", "key-secret=s0,iter-time=50",
                       path, "32M"},
                      &hex);
  }
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::string db = tmp_.File("cloud.db");
  const std::string zeros = "00000000-0000-0000-0000-000000000000";
  CommandResult r = Run({"--fixed-key-file", key_file, "--db", db, "--host", "h1", "volume",
                         "manage", "--path", path, "--key-id", zeros, "--id", "c1",
                         "--size", "32M"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["encryption_key_id"], zeros);
  r = Run({"--db", db, "keys", "migrate", "--fixed-key-file", key_file, "--host", "h1",
           "--keys", tmp_.File("k")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("migrated volume c1 key ", 0), 0u) << r.out;
  CommandResult show = Run({"--db", db, "--keys", tmp_.File("k"), "volume", "show", "c1"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(nlohmann::json::parse(show.out)["encryption_key_id"], zeros);
  CommandResult verify = Run({"--db", db, "--keys", tmp_.File("k"), "volume", "verify", "c1"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_EQ(transcript_.find(std::string(hex.char_data(), hex.size())), std::string::npos);
}

// Hostile ids and paths: one short line, nothing recorded.
TEST_F(ManageCliTest, HostileIdsAndPathsGiveOneShortLine) {
  const std::string path = CryptsetupVolume("by-hand", Bytes(kPassphrase));
  const std::string pass = SecretFile("pass", Bytes(kPassphrase));
  const std::string hostile = std::string(10000, 'x') + "\n\x1b[31m\xff";
  CommandResult r = Run({"volume", "manage", "--path", path, "--passphrase-file", pass,
                         "--id", hostile});
  EXPECT_EQ(r.exit_code, 1);
  ExpectOneLine(r);
  r = Run({"volume", "manage", "--path", "/nonexistent/" + hostile, "--passphrase-file", pass});
  EXPECT_NE(r.exit_code, 0);
  ExpectOneLine(r);
  r = Run({"volume", "unmanage", hostile});
  EXPECT_EQ(r.exit_code, 1);
  ExpectOneLine(r);
  EXPECT_EQ(Volumes(), 0u);
}

// kill -9 of a manage that stores its key, at moments spread over its run,
// then reconcile: either the volume is managed (one key, verified) or
// nothing is (no record, no key); the volume is never touched.
TEST_F(ManageCliTest, AKilledManageIsEitherDoneOrLeavesNothingAfterReconcile) {
  const std::string path = CryptsetupVolume("by-hand", Bytes(kPassphrase));
  const std::string before = ReadFileOrDie(path);
  const std::string pass = SecretFile("pass", Bytes(kPassphrase));
  int done = 0, undone = 0;
  for (int i = 0; i < 8; ++i) {
    const std::string state = tmp_.File("state-" + std::to_string(i));
    std::vector<std::string> argv = {Cli(), "--state-dir", state, "volume", "manage",
                                     "--path", path, "--passphrase-file", pass, "--id", "k"};
    std::vector<char*> raw;
    for (std::string& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
      const int null = open("/dev/null", O_WRONLY);
      dup2(null, STDOUT_FILENO);
      dup2(null, STDERR_FILENO);
      execv(raw[0], raw.data());
      _exit(127);
    }
    if (i < 7) {  // the last one runs to its end
      usleep(static_cast<useconds_t>(i * 60000));
      kill(pid, SIGKILL);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CommandResult r = RunCommand({Cli(), "--state-dir", state, "reconcile", "--grace", "0"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = RunCommand({Cli(), "--state-dir", state, "volume", "list"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json volumes = nlohmann::json::parse(r.out);
    int keys = 0;
    if (DIR* d = opendir((state + "/keys").c_str())) {
      while (dirent* e = readdir(d)) {
        const std::string name = e->d_name;
        if (name.size() > 4 && name.substr(name.size() - 4) == ".key") ++keys;
      }
      closedir(d);
    }
    if (volumes.empty()) {
      ++undone;
      EXPECT_EQ(keys, 0) << "a key left by a killed manage, after " << i * 60 << " ms";
    } else {
      ++done;
      ASSERT_EQ(volumes.size(), 1u);
      EXPECT_EQ(volumes[0]["status"], "available");
      EXPECT_EQ(keys, 1);
      EXPECT_EQ(RunCommand({Cli(), "--state-dir", state, "volume", "verify", "k"}).exit_code, 0);
    }
    EXPECT_EQ(ReadFileOrDie(path), before) << "the volume was written to";
  }
  EXPECT_GT(done, 0);  // at least the one not killed
  std::printf("killed manages: %d done, %d undone\n", done, undone);
}

TEST_F(ManageCliTest, UnmanageOfAnUnknownVolumeFails) {
  CommandResult r = Run({"volume", "unmanage", "nope"});
  EXPECT_EQ(r.exit_code, 1);
  ExpectOneLine(r);
}

}  // namespace
}  // namespace volcrypt
