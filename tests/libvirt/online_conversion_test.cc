// Online conversion (lib/volumes/online_conversion.h) against a private
// libvirtd and real QEMU: an attached LUKS1 file volume gets a new volume
// key while QEMU writes, through ConvertVolume; a kill at every step, then
// Reconcile, leaves the old volume with its old key and secret or the new
// one with its new key and secret, never neither, and nothing orphaned; a
// detach during the copy is refused; hostile requests change nothing.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "absl/strings/str_format.h"
#include "tests/libvirt/libvirt_testbed.h"
#include "tests/support/faults.h"
#include "tests/support/test_support.h"
#include "volcrypt/attacher.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/mapped_backend.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::FaultPlan;
using ::volcrypt::testing::FaultyAttacher;
using ::volcrypt::testing::FaultyKeyManager;
using ::volcrypt::testing::FaultyStore;
using ::volcrypt::testing::LibvirtProbe;
using ::volcrypt::testing::LibvirtTestbed;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::TempDir;

::testing::Environment* const kTestbed = ::testing::AddGlobalTestEnvironment(new LibvirtTestbed);

constexpr uint64_t kSize = 16 << 20;
constexpr char kDomain[] = "volcrypt-online";

class OnlineConversionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (LibvirtTestbed::uri().empty()) GTEST_SKIP() << LibvirtTestbed::skip_reason();
    keys_ = std::move(NewFileKeyManager(tmp_.File("keys"), SecretBytes::Random(32).value(),
                                        NullLogger()).value());
    store_ = std::move(OpenSqliteVolumeStore(tmp_.File("volumes.db")).value());
    faulty_keys_ = std::make_unique<FaultyKeyManager>(keys_.get(), &faults_);
    faulty_store_ = std::make_unique<FaultyStore>(store_.get(), &faults_);
    mapped_ = NewMappedBackend();
    attacher_ = std::move(Attacher::Connect(LibvirtTestbed::uri()).value());
    faulty_attacher_ = std::make_unique<FaultyAttacher>(attacher_.get(), &faults_);
    VolumeServiceOptions o;
    o.keys = faulty_keys_.get();
    o.store = faulty_store_.get();
    o.mapped = mapped_.get();
    o.attacher = faulty_attacher_.get();
    o.host = "host-a";
    o.logger = NullLogger();
    service_ = std::move(VolumeService::Create(o).value());
    probe_.DefineDomain(kDomain, /*start=*/true);
  }

  void TearDown() override {
    if (LibvirtTestbed::uri().empty()) return;
    probe_.DestroyAndUndefine(kDomain);
  }

  // A LUKS1 file volume attached live and to the config, with a pattern
  // written through QEMU.
  VolumeRecord AttachedVolume(const std::string& id) {
    CreateVolumeRequest r;
    r.id = id;
    r.location = VolumeLocation::Path(tmp_.File(id));
    r.size_bytes = kSize;
    EXPECT_TRUE(service_->CreateVolume(r).ok());
    AttachTarget t;
    t.domain = kDomain;
    t.config = true;
    absl::StatusOr<VolumeRecord> a = service_->AttachVolume(id, t, {});
    EXPECT_TRUE(a.ok()) << a.status();
    Write(0xd4, 0, 1 << 20);
    return a.ok() ? *a : VolumeRecord();
  }

  ConvertVolumeRequest Request(const std::string& id) {
    ConvertVolumeRequest r;
    r.id = id;
    r.kind = ConversionKind::kReencrypt;
    r.target = VolumeLocation::Path(tmp_.File(id + "-new"));
    return r;
  }

  void Write(int pattern, uint64_t offset, uint64_t len) {
    const std::string out = probe_.Hmp(
        kDomain, absl::StrFormat("qemu-io -d scsi0-0-0-1 \"write -P 0x%02x %d %d\"", pattern,
                                 offset, len));
    EXPECT_EQ(out.find("rror"), std::string::npos) << out;
  }

  // qemu-io reads of a LUKS file with the passphrase of key `key_id`.
  std::string Read(const std::string& path, const std::string& key_id,
                   const std::vector<std::string>& reads) {
    SecretBytes pass = HexPassphrase(keys_->GetKey(key_id).value());
    std::vector<std::string> argv = {"qemu-io", "-r", "-U", "--object",
                                     "secret,id=s0,file=/dev/fd/3", "--image-opts",
                                     "driver=luks,key-secret=s0,file.filename=" + path};
    for (const std::string& c : reads) {
      argv.push_back("-c");
      argv.push_back(c);
    }
    auto r = RunCommand(argv, &pass);
    return r.out + r.err;
  }

  // The promised end state of volume `id` (attached, 'in-use') after a
  // conversion, finished or undone: one location with one key, which opens
  // it, one libvirt secret, which the attachment and the disk name; the
  // other side's file, key and secret are gone. Returns whether it is new.
  bool ExpectOneWholeVolume(const VolumeRecord& before) {
    const std::string id = before.id;
    const std::string old_path = before.location.path;
    const std::string new_path = tmp_.File(id + "-new");
    VolumeRecord now = store_->GetVolume(id).value();
    EXPECT_EQ(now.status, VolumeStatus::kInUse);
    EXPECT_TRUE(absl::IsNotFound(store_->GetConversion(id).status()));
    const bool is_new = now.location.path == new_path;
    EXPECT_TRUE(is_new || now.location.path == old_path) << now.location.path;
    EXPECT_EQ(access(is_new ? old_path.c_str() : new_path.c_str(), F_OK), -1);
    EXPECT_EQ(access(now.location.path.c_str(), F_OK), 0);
    EXPECT_EQ(is_new, now.encryption_key_id != before.encryption_key_id);
    EXPECT_EQ(keys_->FindKeysByName(KeyNameForVolume(id)).value(),
              std::vector<std::string>{now.encryption_key_id});
    const AttachmentRecord a = store_->GetAttachment(id).value();
    std::vector<std::string> secrets;
    const std::vector<LibvirtSecretInfo> all = attacher_->ListVolcryptSecrets().value();
    for (const LibvirtSecretInfo& s : all) {
      if (IsSecretUsageOf(s.usage_id, id)) secrets.push_back(s.uuid);
    }
    EXPECT_EQ(secrets, std::vector<std::string>{a.secret_uuid});
    absl::optional<LiveDiskState> live = attacher_->InspectLiveDisk(kDomain, "sdb").value();
    EXPECT_TRUE(live.has_value());
    if (live) {
      EXPECT_FALSE(live->copying);
      EXPECT_EQ(live->source, now.location.path);
      EXPECT_EQ(live->secret_uuid, a.secret_uuid);
    }
    EXPECT_NE(probe_.DomainXml(kDomain, true).find(now.location.path), std::string::npos);
    const std::string out = Read(now.location.path, now.encryption_key_id, {"read -P 0xd4 0 1M"});
    EXPECT_NE(out.find("read 1048576/1048576"), std::string::npos) << out;
    EXPECT_EQ(out.find("verification failed"), std::string::npos) << out;
    return is_new;
  }

  TempDir tmp_;
  LibvirtProbe probe_;
  FaultPlan faults_;
  std::unique_ptr<KeyManager> keys_;
  std::unique_ptr<VolumeStore> store_;
  std::unique_ptr<FaultyKeyManager> faulty_keys_;
  std::unique_ptr<FaultyStore> faulty_store_;
  std::unique_ptr<BlockBackend> mapped_;
  std::unique_ptr<Attacher> attacher_;
  std::unique_ptr<FaultyAttacher> faulty_attacher_;
  std::unique_ptr<VolumeService> service_;
};

TEST_F(OnlineConversionTest, AnAttachedVolumeGetsANewKeyWhileQemuWritesAndNothingOldIsLeft) {
  const VolumeRecord before = AttachedVolume("o1");
  const std::string old_secret = store_->GetAttachment("o1")->secret_uuid;
  ConvertVolumeRequest r = Request("o1");
  int writes = 0;
  r.progress = [&](uint64_t, uint64_t) {
    if (writes < 4) Write(0xe0 + writes, (2 + 3 * writes) << 20, 64 << 10), ++writes;
  };
  absl::StatusOr<VolumeRecord> v = service_->ConvertVolume(r);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_GT(writes, 0);
  EXPECT_TRUE(ExpectOneWholeVolume(before));
  EXPECT_FALSE(probe_.SecretExists(old_secret));
  EXPECT_TRUE(absl::IsNotFound(keys_->GetKey(before.encryption_key_id).status()));
  EXPECT_EQ(store_->GetAttachment("o1")->secret_uuid,
            ConversionSecretUuid("o1", v->encryption_key_id));
  const std::string block = probe_.Hmp(kDomain, "info block");
  EXPECT_NE(block.find("\"driver\": \"luks\""), std::string::npos) << block;
  EXPECT_NE(block.find(v->location.path), std::string::npos) << block;
  std::vector<std::string> reads;
  for (int i = 0; i < writes; ++i) {
    reads.push_back(absl::StrFormat("read -P 0x%02x %d 64k", 0xe0 + i, (2 + 3 * i) << 20));
  }
  const std::string out = Read(v->location.path, v->encryption_key_id, reads);
  EXPECT_EQ(out.find("verification failed"), std::string::npos) << out;
  // The domain restarts on the new disk; the volume detaches as any other.
  EXPECT_EQ(probe_.Restart(kDomain), "");
  ASSERT_TRUE(service_->DetachVolume("o1").ok());
  EXPECT_FALSE(probe_.SecretExists(store_->GetVolume("o1").ok() ? "" : "x"));
  EXPECT_EQ(probe_.SecretWithUsage(ConversionSecretUsageId(
                "o1", ConversionSecretUuid("o1", v->encryption_key_id))),
            "");
}

TEST_F(OnlineConversionTest, AKillAtEveryStepThenReconcileLeavesOneWholeVolume) {
  // One undisturbed run names the steps.
  const VolumeRecord traced = AttachedVolume("t0");
  const size_t before = faults_.trace().size();
  ASSERT_TRUE(service_->ConvertVolume(Request("t0")).ok());
  const size_t steps = faults_.trace().size() - before;
  ASSERT_TRUE(service_->DetachVolume("t0").ok());
  int forward = 0;
  int back = 0;
  for (size_t k = 1; k <= steps; ++k) {
    const std::string id = "k" + std::to_string(k);
    const VolumeRecord v = AttachedVolume(id);
    const size_t at = faults_.trace().size();
    const pid_t pid = fork();
    if (pid == 0) {
      faults_.KillAtStep(static_cast<int>(at + k));
      (void)service_->ConvertVolume(Request(id));
      _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    // The number of progress polls (and so of steps) varies from run to
    // run: a run with fewer steps than the traced one finishes unkilled.
    if (!WIFSIGNALED(status)) {
      EXPECT_EQ(WEXITSTATUS(status), 0) << "step " << k;
    }
    absl::StatusOr<int> acted = service_->Reconcile(0);
    ASSERT_TRUE(acted.ok()) << "step " << k << ": " << acted.status();
    SCOPED_TRACE("killed at step " + std::to_string(k));
    (ExpectOneWholeVolume(v) ? forward : back)++;
    ASSERT_TRUE(service_->DetachVolume(id).ok());
  }
  // Both outcomes occur: kills before the pivot go back, after it forward.
  EXPECT_GT(forward, 0);
  EXPECT_GT(back, 0);
  std::cout << steps << " steps: " << back << " undone, " << forward << " finished\n";
}

TEST_F(OnlineConversionTest, ADetachDuringTheCopyIsRefusedAndTheConversionFinishes) {
  const VolumeRecord before = AttachedVolume("r1");
  ConvertVolumeRequest r = Request("r1");
  absl::Status detach = absl::OkStatus();
  bool tried = false;
  r.progress = [&](uint64_t, uint64_t) {
    if (!tried) detach = service_->DetachVolume("r1").status(), tried = true;
  };
  ASSERT_TRUE(service_->ConvertVolume(r).ok());
  EXPECT_TRUE(tried);
  EXPECT_THAT(detach, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(ExpectOneWholeVolume(before));
}

TEST_F(OnlineConversionTest, HostileRequestsChangeNothing) {
  const VolumeRecord before = AttachedVolume("h1");
  // A destination that exists.
  ConvertVolumeRequest r = Request("h1");
  ::volcrypt::testing::MakeSparseFile(r.target.path, kSize);
  EXPECT_THAT(service_->ConvertVolume(r), StatusIs(absl::StatusCode::kAlreadyExists));
  unlink(r.target.path.c_str());
  // The destination is the volume itself.
  r.target = before.location;
  EXPECT_FALSE(service_->ConvertVolume(r).ok());
  // An engine libvirt 9.0 cannot open live (11.x can, but not on a file).
  r = Request("h1");
  r.encryption.engine = EncryptionEngine::kLibrbd;
  r.encryption.format = LuksFormat::kLuks2;
  if (LibvirtTestbed::CurrentStack()) {
    EXPECT_FALSE(service_->ConvertVolume(r).ok());
  } else {
    EXPECT_THAT(service_->ConvertVolume(r), StatusIs(absl::StatusCode::kUnimplemented));
  }
  // A plain "encrypt" of an encrypted volume.
  r = Request("h1");
  r.kind = ConversionKind::kEncrypt;
  EXPECT_FALSE(service_->ConvertVolume(r).ok());
  EXPECT_FALSE(ExpectOneWholeVolume(before));
  EXPECT_EQ(store_->GetVolume("h1")->encryption_key_id, before.encryption_key_id);
}

}  // namespace
}  // namespace volcrypt
