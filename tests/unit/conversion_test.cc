// VolumeService::ConvertVolume on files over real components (FileKeyManager,
// SQLite, MappedBackend), with QEMU (qemu-io's LUKS driver) and cryptsetup as
// the independent readers: plain -> LUKS1, LUKS1 -> LUKS1 under a new key,
// hostile input, and a kill at every step followed by Reconcile (or a rerun).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include <gtest/gtest.h>

#include "tests/support/faulty_file_service.h"
#include "tests/support/test_support.h"
#include "volcrypt/errors.h"
#include "volcrypt/luks.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::CommandResult;
using ::volcrypt::testing::FaultPlan;
using ::volcrypt::testing::FaultyFileServiceTest;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::StatusIsWith;

constexpr uint64_t kSize = 16 << 20;

class ConversionTest : public FaultyFileServiceTest {
 protected:
  // A plain 16 MiB file: 0xa5 in its first MiB, 0x5a in its ninth, holes
  // elsewhere; managed as a plain volume.
  VolumeRecord MakePlain(const std::string& id) {
    const std::string path = tmp_.File(id);
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(ftruncate(fd, kSize), 0);
    const std::string a(1 << 20, '\xa5'), b(1 << 20, '\x5a');
    EXPECT_EQ(pwrite(fd, a.data(), a.size(), 0), static_cast<ssize_t>(a.size()));
    EXPECT_EQ(pwrite(fd, b.data(), b.size(), 8 << 20), static_cast<ssize_t>(b.size()));
    close(fd);
    ManageVolumeRequest r;
    r.id = id;
    r.location = VolumeLocation::Path(path);
    r.key_kind = ManagedKeyKind::kNone;
    absl::StatusOr<VolumeRecord> v = service_->ManageVolume(r);
    EXPECT_TRUE(v.ok()) << v.status();
    plan_ = FaultPlan();
    return *v;
  }

  // A LUKS1 volume volcrypt made, the same pattern written through QEMU.
  VolumeRecord MakeLuks1(const std::string& id) {
    CreateVolumeRequest r;
    r.id = id;
    r.location = VolumeLocation::Path(tmp_.File(id));
    r.size_bytes = kSize;
    absl::StatusOr<VolumeRecord> v = service_->CreateVolume(r);
    EXPECT_TRUE(v.ok()) << v.status();
    const SecretBytes pass = Passphrase(v->encryption_key_id);
    EXPECT_EQ(QemuIo(tmp_.File(id), pass, "write -P 0xa5 0 1M").exit_code, 0);
    EXPECT_EQ(QemuIo(tmp_.File(id), pass, "write -P 0x5a 8M 1M").exit_code, 0);
    plan_ = FaultPlan();
    return *v;
  }

  SecretBytes Passphrase(const std::string& key_id) {
    return HexPassphrase(keys_->GetKey(key_id).value());
  }

  static CommandResult QemuIo(const std::string& path, const SecretBytes& pass,
                              const std::string& cmd) {
    return RunCommand({"qemu-io", "--object", "secret,id=s0,file=/dev/fd/3", "--image-opts",
                       "driver=luks,key-secret=s0,file.driver=file,file.filename=" + path,
                       "-c", cmd},
                      &pass);
  }

  // QEMU reads back, with `pass`, both patterns written before.
  bool QemuReadsThePattern(const std::string& path, const SecretBytes& pass) {
    for (const char* cmd : {"read -P 0xa5 0 1M", "read -P 0x5a 8M 1M"}) {
      CommandResult r = QemuIo(path, pass, cmd);
      if (r.exit_code != 0 || r.out.find("Pattern verification failed") != std::string::npos) {
        return false;
      }
    }
    return true;
  }

  bool CryptsetupOpens(const std::string& path, const SecretBytes& pass) {
    auto r = RunCommand({"cryptsetup", "open", "--test-passphrase", "--key-file",
                         "/dev/fd/3", path}, &pass);
    return r.exit_code == 0;
  }

  ConvertVolumeRequest Request(const std::string& id, ConversionKind kind,
                               const std::string& target) {
    ConvertVolumeRequest r;
    r.id = id;
    r.kind = kind;
    r.target = VolumeLocation::Path(tmp_.File(target));
    return r;
  }

  // Files of the temporary directory besides the store and the keys (those
  // of volume `only` and its target, if given).
  std::set<std::string> VolumeFiles(const std::string& only = "") {
    std::set<std::string> out;
    DIR* d = opendir(tmp_.path().c_str());
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n == "." || n == ".." || n == "keys" || n.rfind("volumes.db", 0) == 0) continue;
      if (only.empty() || n == only || n == only + ".new") out.insert(n);
    }
    closedir(d);
    return out;
  }

  int KeyFiles() {
    int n = 0;
    DIR* d = opendir(tmp_.File("keys").c_str());
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name.size() > 4 && name.substr(name.size() - 4) == ".key") ++n;
    }
    closedir(d);
    return n;
  }
};

TEST_F(ConversionTest, APlainFileBecomesLuks1ThatQemuReadsWithTheNewKey) {
  MakePlain("p1");
  std::vector<std::pair<uint64_t, uint64_t>> progress;
  ConvertVolumeRequest r = Request("p1", ConversionKind::kEncrypt, "p1.luks");
  r.progress = [&](uint64_t done, uint64_t total) { progress.emplace_back(done, total); };
  absl::StatusOr<VolumeRecord> v = service_->ConvertVolume(r);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->encrypted);
  EXPECT_EQ(v->status, VolumeStatus::kAvailable);
  EXPECT_EQ(v->location.path, tmp_.File("p1.luks"));
  EXPECT_EQ(v->size_bytes, kSize);
  EXPECT_EQ(v->encryption.format, LuksFormat::kLuks1);
  const SecretBytes pass = Passphrase(v->encryption_key_id);
  EXPECT_TRUE(QemuReadsThePattern(tmp_.File("p1.luks"), pass));
  EXPECT_TRUE(CryptsetupOpens(tmp_.File("p1.luks"), pass));
  EXPECT_EQ(access(tmp_.File("p1").c_str(), F_OK), -1) << "the plaintext source is left";
  EXPECT_EQ(luks::Inspect(tmp_.File("p1.luks"))->payload_bytes, kSize);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), std::make_pair(kSize, kSize));
  // The source's holes read as zeros, so they must still read as zeros
  // (a hole in the LUKS file would decrypt to noise).
  for (const char* cmd : {"read -P 0 1M 7M", "read -P 0 9M 7M"}) {
    CommandResult read = QemuIo(tmp_.File("p1.luks"), pass, cmd);
    EXPECT_EQ(read.exit_code, 0) << read.err;
    EXPECT_EQ(read.out.find("Pattern verification failed"), std::string::npos) << cmd;
  }
  EXPECT_THAT(store_->GetConversion("p1"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(service_->VerifyVolumeKey("p1").status(), absl::OkStatus());
}

TEST_F(ConversionTest, ReencryptionGivesANewVolumeKeyTheOldKeyCannotOpen) {
  const VolumeRecord before = MakeLuks1("e1");
  const SecretBytes old_pass = Passphrase(before.encryption_key_id);
  absl::StatusOr<VolumeRecord> v =
      service_->ConvertVolume(Request("e1", ConversionKind::kReencrypt, "e1.new"));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_NE(v->encryption_key_id, before.encryption_key_id);
  const SecretBytes pass = Passphrase(v->encryption_key_id);
  EXPECT_TRUE(QemuReadsThePattern(tmp_.File("e1.new"), pass));
  EXPECT_FALSE(CryptsetupOpens(tmp_.File("e1.new"), old_pass)) << "the old key opens it";
  EXPECT_NE(QemuIo(tmp_.File("e1.new"), old_pass, "read 0 4k").exit_code, 0);
  EXPECT_THAT(keys_->GetKey(before.encryption_key_id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(access(tmp_.File("e1").c_str(), F_OK), -1);
  EXPECT_EQ(KeyFiles(), 1);
  // An encrypted source's holes hold bytes nobody wrote: they stay holes
  // (2 MiB of data + the header region at most are allocated).
  struct stat st;
  ASSERT_EQ(stat(tmp_.File("e1.new").c_str(), &st), 0);
  EXPECT_LE(static_cast<uint64_t>(st.st_blocks) * 512, 7u << 20);
}

TEST_F(ConversionTest, KeepSourceKeepsTheOldFileAndItsKey) {
  const VolumeRecord before = MakeLuks1("k1");
  ConvertVolumeRequest r = Request("k1", ConversionKind::kReencrypt, "k1.new");
  r.keep_source = true;
  ASSERT_TRUE(service_->ConvertVolume(r).ok());
  EXPECT_TRUE(QemuReadsThePattern(tmp_.File("k1"), Passphrase(before.encryption_key_id)));
}

TEST_F(ConversionTest, RefusesATargetThatExistsOrIsRecordedAndChangesNothing) {
  MakePlain("p1");
  MakePlain("p2");
  EXPECT_THAT(service_->ConvertVolume(Request("p1", ConversionKind::kEncrypt, "p2")),
              StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_EQ(unlink(tmp_.File("p2").c_str()), 0);  // recorded, but gone
  EXPECT_THAT(service_->ConvertVolume(Request("p1", ConversionKind::kEncrypt, "p2")),
              StatusIsWith(absl::StatusCode::kAlreadyExists, "recorded for volume p2"));
  EXPECT_THAT(service_->ConvertVolume(Request("p1", ConversionKind::kEncrypt, "p1")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(service_->ConvertVolume(Request("p1", ConversionKind::kReencrypt, "x")),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "use encrypt"));
  ConvertVolumeRequest luks2 = Request("p1", ConversionKind::kEncrypt, "x");
  luks2.encryption.format = LuksFormat::kLuks2;  // QEMU's engine opens LUKS1 only
  EXPECT_THAT(service_->ConvertVolume(luks2), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(store_->GetVolume("p1")->status, VolumeStatus::kAvailable);
  EXPECT_EQ(KeyFiles(), 0);
  EXPECT_EQ(VolumeFiles(), (std::set<std::string>{"p1"}));
}

TEST_F(ConversionTest, RefusesASourceThatIsNotWhatTheRecordSays) {
  MakePlain("p1");
  // Someone put a LUKS header where the record says plain.
  ASSERT_EQ(RunCommand({"truncate", "-s", "0", tmp_.File("p1")}).exit_code, 0);
  ASSERT_EQ(RunCommand({"truncate", "-s", "16M", tmp_.File("p1")}).exit_code, 0);
  const SecretBytes pass = HexPassphrase(SecretBytes::Random(32).value());
  ASSERT_TRUE(luks::FormatPath(tmp_.File("p1"), EncryptionSpec(), pass, {}).ok());
  EXPECT_THAT(service_->ConvertVolume(Request("p1", ConversionKind::kEncrypt, "p1.luks")),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "the record says plain"));
  // A source shorter than recorded.
  MakePlain("p2");
  ASSERT_EQ(truncate(tmp_.File("p2").c_str(), 8 << 20), 0);
  EXPECT_THAT(service_->ConvertVolume(Request("p2", ConversionKind::kEncrypt, "p2.luks")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // An encrypted source whose header is not the one recorded.
  MakeLuks1("e1");
  ASSERT_TRUE(luks::FormatPath(tmp_.File("e1"), EncryptionSpec(), pass, {true}).ok());
  EXPECT_THAT(service_->ConvertVolume(Request("e1", ConversionKind::kReencrypt, "e1.new")),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "did not record"));
  EXPECT_EQ(VolumeFiles(), (std::set<std::string>{"p1", "p2", "e1"}));
  EXPECT_EQ(KeyFiles(), 1);
}

// A kill before each step, then Reconcile: the old volume with its old key
// or the new one with its new key, never neither, and nothing orphaned.
class ConversionKillTest : public ConversionTest,
                           public ::testing::WithParamInterface<bool> {
 protected:
  // Runs the conversion of a fresh volume in a child killed before step k
  // (0: never); returns the steps it met (k = 0) or nothing.
  std::vector<std::string> RunKilledAt(int k, const std::string& id, bool encrypted) {
    if (encrypted) {
      MakeLuks1(id);
    } else {
      MakePlain(id);
    }
    ConvertVolumeRequest r =
        Request(id, encrypted ? ConversionKind::kReencrypt : ConversionKind::kEncrypt, id + ".new");
    if (k == 0) {
      EXPECT_TRUE(service_->ConvertVolume(r).ok());
      return plan_.trace();
    }
    const pid_t pid = fork();
    if (pid == 0) {
      plan_.KillAtStep(k);
      (void)service_->ConvertVolume(r);
      _exit(0);
    }
    EXPECT_EQ(testing::WaitForExit(pid), 128 + SIGKILL) << "step " << k << " was not reached";
    Reopen();
    return {};
  }

  void ExpectOldOrNew(const std::string& id, const std::string& old_key) {
    absl::StatusOr<VolumeRecord> v = store_->GetVolume(id);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->status, VolumeStatus::kAvailable);
    const bool converted = v->location.path == tmp_.File(id + ".new");
    if (!converted) {
      EXPECT_EQ(v->location.path, tmp_.File(id));
      EXPECT_EQ(v->encryption_key_id, old_key);
    }
    EXPECT_TRUE(v->encrypted || !converted);
    if (v->encrypted) {
      EXPECT_TRUE(QemuReadsThePattern(v->location.path, Passphrase(v->encryption_key_id)));
    } else {
      const std::string data = testing::ReadFileOrDie(v->location.path);
      EXPECT_EQ(data.substr(0, 1 << 20), std::string(1 << 20, '\xa5'));
    }
    // Exactly the recorded location and the recorded key remain.
    EXPECT_EQ(VolumeFiles(id), (std::set<std::string>{converted ? id + ".new" : id}));
    EXPECT_EQ(KeyFiles(), v->encrypted ? 1 : 0);
    EXPECT_THAT(store_->GetConversion(id), StatusIs(absl::StatusCode::kNotFound));
  }
};

TEST_P(ConversionKillTest, AKillAtEveryStepReconcilesToTheOldOrTheNewVolume) {
  const bool encrypted = GetParam();
  const std::vector<std::string> steps = RunKilledAt(0, "t0", encrypted);
  ASSERT_GE(steps.size(), 8u);
  // The trace run's own volume is the converted one; start each kill clean.
  ASSERT_TRUE(service_->DeleteVolume("t0").ok());
  for (size_t k = 1; k <= steps.size(); ++k) {
    SCOPED_TRACE("killed before step " + std::to_string(k) + " (" + steps[k - 1] + ")");
    const std::string id = "v" + std::to_string(k);
    RunKilledAt(static_cast<int>(k), id, encrypted);
    const std::string old_key = store_->GetVolume(id)->encryption_key_id;
    absl::StatusOr<int> acted = service_->Reconcile(/*grace_seconds=*/0);
    ASSERT_TRUE(acted.ok()) << acted.status();
    ExpectOldOrNew(id, old_key);
    EXPECT_EQ(service_->Reconcile(0).value(), 0) << "a second Reconcile has nothing to do";
    ASSERT_TRUE(service_->DeleteVolume(id).ok());
    unlink(tmp_.File(id).c_str());  // a plain volume's file outlives its record
  }
}

TEST_P(ConversionKillTest, ARerunAfterAKillFinishesTheConversion) {
  const bool encrypted = GetParam();
  const std::vector<std::string> steps = RunKilledAt(0, "t0", encrypted);
  ASSERT_TRUE(service_->DeleteVolume("t0").ok());
  for (size_t k = 1; k <= steps.size(); ++k) {
    SCOPED_TRACE("killed before step " + std::to_string(k) + " (" + steps[k - 1] + ")");
    const std::string id = "r" + std::to_string(k);
    RunKilledAt(static_cast<int>(k), id, encrypted);
    const std::string old_key = store_->GetVolume(id)->encryption_key_id;
    ConvertVolumeRequest r = Request(
        id, encrypted ? ConversionKind::kReencrypt : ConversionKind::kEncrypt, id + ".new");
    absl::StatusOr<VolumeRecord> v = service_->ConvertVolume(r);
    if (!v.ok()) {
      // Killed before the conversion began: the volume is as it was.
      EXPECT_EQ(store_->GetVolume(id)->status, VolumeStatus::kAvailable) << v.status();
    }
    ASSERT_TRUE(service_->Reconcile(0).ok());
    ExpectOldOrNew(id, old_key);
    if (v.ok()) {
      EXPECT_EQ(v->location.path, tmp_.File(id + ".new"));
    }
    ASSERT_TRUE(service_->DeleteVolume(id).ok());
    unlink(tmp_.File(id).c_str());  // a plain volume's file outlives its record
  }
}

INSTANTIATE_TEST_SUITE_P(PlainAndLuks1, ConversionKillTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return std::string(i.param ? "Luks1Source" : "PlainSource");
                         });

}  // namespace
}  // namespace volcrypt
