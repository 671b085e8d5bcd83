// Bringing in volumes the real tools made (issue #13): `cryptsetup
// luksFormat` LUKS1 and LUKS2 files and a loop device, and a `qemu-img
// create -f luks` file. Data QEMU wrote with its own secret before the
// adoption reads back with the passphrase volcrypt's attach plan gives;
// extend gives exactly the asked size over the foreign header's real
// offset; unmanage leaves volume and key intact.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "tests/support/test_support.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/luks.h"
#include "volcrypt/mapped_backend.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::CommandResult;
using ::volcrypt::testing::IsRoot;
using ::volcrypt::testing::MakeSparseFile;
using ::volcrypt::testing::RandomKey;
using ::volcrypt::testing::ReadFileOrDie;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::StatusIsWith;
using ::volcrypt::testing::TempDir;

constexpr char kSecretObject[] = "secret,id=sec0,file=/dev/fd/3";
constexpr uint64_t kRaw = 64ull << 20;
constexpr char kPassphrase[] = "an operator's passphrase from 2019";

SecretBytes Bytes(const std::string& s) { return SecretBytes::CopyOf(s.data(), s.size()); }

std::string ImageOpts(const std::string& path) {
  const bool device = path.rfind("/dev/", 0) == 0;
  return std::string("driver=luks,key-secret=sec0,file.driver=") +
         (device ? "host_device" : "file") + ",file.filename=" + path;
}

CommandResult QemuIo(const std::string& path, const SecretBytes& pass,
                     const std::string& command) {
  return RunCommand({"qemu-io", "--object", kSecretObject, "--image-opts", ImageOpts(path),
                     "-c", command},
                    &pass);
}

// The size QEMU's LUKS driver gives the guest.
uint64_t QemuSize(const std::string& path, const SecretBytes& pass) {
  CommandResult info = RunCommand({"qemu-img", "info", "--output=json", "--object",
                                   kSecretObject, "--image-opts", ImageOpts(path)},
                                  &pass);
  EXPECT_EQ(info.exit_code, 0) << info.err;
  const size_t at = info.out.find("\"virtual-size\": ");
  if (at == std::string::npos) return 0;
  return std::stoull(info.out.substr(at + 16));
}

class AdoptInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_ = std::move(NewFileKeyManager(tmp_.File("keys"), RandomKey(), nullptr).value());
    store_ = std::move(OpenSqliteVolumeStore(tmp_.File("volumes.db")).value());
    backend_ = NewMappedBackend();
    VolumeServiceOptions o;
    o.keys = keys_.get();
    o.store = store_.get();
    o.mapped = backend_.get();
    o.host = "host-a";
    o.logger = NullLogger();
    service_ = std::move(VolumeService::Create(o).value());
  }
  void TearDown() override {
    for (const std::string& dev : devices_) RunCommand({"losetup", "-d", dev});
  }

  void CryptsetupFormat(const std::string& path, const char* type, const SecretBytes& pass) {
    CommandResult r = RunCommand({"cryptsetup", "luksFormat", "--batch-mode", "--type", type,
                                  "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000",
                                  "--key-file", "/dev/fd/3", path},
                                 &pass);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // QEMU writes a pattern at the start with the volume's own secret.
  void WriteBefore(const std::string& path, const SecretBytes& pass) {
    CommandResult w = QemuIo(path, pass, "write -P 0x5a 0 1M");
    ASSERT_EQ(w.exit_code, 0) << w.out << w.err;
  }

  // Reads the pattern back with the passphrase of volcrypt's attach plan.
  void ReadAfter(const std::string& id, const std::string& path, uint64_t offset = 0) {
    absl::StatusOr<AttachPlan> plan = service_->PlanAttach(id, {});
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_FALSE(plan->formatted_now);
    CommandResult r = QemuIo(path, plan->passphrase,
                             "read -P 0x5a " + std::to_string(offset) + " 1M");
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.out.find("Pattern verification failed"), std::string::npos) << r.out;
  }

  // Manage, verify, read back, extend to exactly `grown`, write and read at
  // the new end, unmanage: file and key intact.
  void AdoptFile(const ManageVolumeRequest& req, uint64_t grown) {
    absl::StatusOr<VolumeRecord> v = service_->ManageVolume(req);
    ASSERT_TRUE(v.ok()) << v.status();
    const std::string& path = req.location.path;
    absl::StatusOr<luks::LuksInfo> info = luks::Inspect(path);
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(v->size_bytes, info->payload_bytes);
    ASSERT_TRUE(service_->VerifyVolumeKey(v->id).ok());
    ReadAfter(v->id, path);
    absl::StatusOr<VolumeRecord> e = service_->ExtendVolume(v->id, grown);
    ASSERT_TRUE(e.ok()) << e.status();
    absl::StatusOr<AttachPlan> plan = service_->PlanAttach(v->id, {});
    ASSERT_TRUE(plan.ok());
    EXPECT_EQ(QemuSize(path, plan->passphrase), grown);
    const std::string end = std::to_string(grown - (1 << 20));
    ASSERT_EQ(QemuIo(path, plan->passphrase, "write -P 0x5a " + end + " 1M").exit_code, 0);
    ReadAfter(v->id, path, grown - (1 << 20));
    ReadAfter(v->id, path);
    const std::string before = ReadFileOrDie(path);
    const std::string key_id = v->encryption_key_id;
    ASSERT_TRUE(service_->UnmanageVolume(v->id).ok());
    EXPECT_EQ(ReadFileOrDie(path), before);
    EXPECT_TRUE(keys_->GetKey(key_id).ok());
    EXPECT_EQ(store_->ListVolumes({})->size(), 0u);
  }

  TempDir tmp_;
  std::unique_ptr<KeyManager> keys_;
  std::unique_ptr<VolumeStore> store_;
  std::unique_ptr<BlockBackend> backend_;
  std::unique_ptr<VolumeService> service_;
  std::vector<std::string> devices_;
};

TEST_F(AdoptInteropTest, ACryptsetupLuks1FileWithAPassphrase) {
  const std::string path = tmp_.File("cryptsetup-luks1");
  MakeSparseFile(path, kRaw);
  CryptsetupFormat(path, "luks1", Bytes(kPassphrase));
  WriteBefore(path, Bytes(kPassphrase));
  ManageVolumeRequest req;
  req.id = "v1";
  req.location = VolumeLocation::Path(path);
  req.key_kind = ManagedKeyKind::kPassphrase;
  req.secret = Bytes(kPassphrase);
  AdoptFile(req, 100ull << 20);
}

TEST_F(AdoptInteropTest, ACryptsetupLuks1FileWithRawKeyBytes) {
  const std::string path = tmp_.File("cryptsetup-luks1");
  MakeSparseFile(path, kRaw);
  SecretBytes key = RandomKey();
  CryptsetupFormat(path, "luks1", HexPassphrase(key));
  WriteBefore(path, HexPassphrase(key));
  ManageVolumeRequest req;
  req.id = "v1";
  req.location = VolumeLocation::Path(path);
  req.key_kind = ManagedKeyKind::kKeyBytes;
  req.secret = key.Clone();
  AdoptFile(req, 96ull << 20);
}

// QEMU 7.2 opens LUKS1 only: a LUKS2 file (which only the qemu engine could
// serve) is refused with the reason, and nothing is recorded or stored.
TEST_F(AdoptInteropTest, ACryptsetupLuks2FileIsRefusedWithTheReason) {
  const std::string path = tmp_.File("cryptsetup-luks2");
  MakeSparseFile(path, kRaw);
  CryptsetupFormat(path, "luks2", Bytes(kPassphrase));
  const std::string before = ReadFileOrDie(path);
  ManageVolumeRequest req;
  req.location = VolumeLocation::Path(path);
  req.key_kind = ManagedKeyKind::kPassphrase;
  req.secret = Bytes(kPassphrase);
  EXPECT_THAT(service_->ManageVolume(req),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "LUKS1"));
  EXPECT_EQ(store_->ListVolumes({})->size(), 0u);
  EXPECT_TRUE(keys_->FindKeysByName(KeyNameForVolume("v1"))->empty());
  EXPECT_EQ(ReadFileOrDie(path), before);
}

TEST_F(AdoptInteropTest, AQemuImgLuksFileWithAKeyAlreadyInTheKeyManager) {
  KeyRequest kr;
  kr.bits = 256;
  kr.name = "made-by-cinder";
  NewKey key = std::move(keys_->CreateKey(kr).value());
  const std::string path = tmp_.File("qemu.luks");
  const SecretBytes pass = HexPassphrase(key.bytes);
  CommandResult made;
  for (int attempt = 0; attempt < 8; ++attempt) {  // see qemu_interop_test.cc
    made = RunCommand({"qemu-img", "create", "-f", "luks", "--object", kSecretObject, "-o",
                       "key-secret=sec0,iter-time=50", path, "48M"},
                      &pass);
    if (made.exit_code == 0) break;
  }
  ASSERT_EQ(made.exit_code, 0) << made.err;
  WriteBefore(path, pass);
  ManageVolumeRequest req;
  req.id = "q1";
  req.location = VolumeLocation::Path(path);
  req.key_id = key.id;
  req.size_bytes = 48ull << 20;  // what qemu-img was asked for
  AdoptFile(req, 80ull << 20);
}

TEST_F(AdoptInteropTest, ACryptsetupLuks1LoopDevice) {
  ASSERT_TRUE(IsRoot()) << "loop devices need root";
  const std::string backing = tmp_.File("backing");
  MakeSparseFile(backing, kRaw);
  CommandResult lo = RunCommand({"losetup", "-f", "--show", backing});
  ASSERT_EQ(lo.exit_code, 0) << lo.err;
  const std::string dev(absl::StripAsciiWhitespace(lo.out));
  devices_.push_back(dev);
  SecretBytes key = RandomKey();
  CryptsetupFormat(dev, "luks1", HexPassphrase(key));
  WriteBefore(dev, HexPassphrase(key));
  ManageVolumeRequest req;
  req.id = "d1";
  req.location = VolumeLocation::Path(dev);
  req.key_kind = ManagedKeyKind::kKeyBytes;
  req.secret = key.Clone();
  absl::StatusOr<VolumeRecord> v = service_->ManageVolume(req);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->size_bytes, kRaw - luks::Inspect(dev)->payload_offset_bytes);
  ASSERT_TRUE(service_->VerifyVolumeKey("d1").ok());
  ReadAfter("d1", dev);
  const std::string before = ReadFileOrDie(backing);
  ASSERT_TRUE(service_->UnmanageVolume("d1").ok());
  EXPECT_EQ(ReadFileOrDie(backing), before);
  EXPECT_TRUE(keys_->GetKey(v->encryption_key_id).ok());
}

}  // namespace
}  // namespace volcrypt
