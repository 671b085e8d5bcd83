// LUKS2 volumes get 4096-byte encryption sectors unless asked otherwise
// (librbd reads them ~1.15x faster than 512-byte ones: docs/performance.md),
// and every reader still opens them: cryptsetup, librbd's own encryption and
// QEMU through librbd; extend keeps the 4 KiB alignment.
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/ceph/ceph_testbed.h"
#include "tests/ceph/rbd_service_test.h"
#include "tests/support/test_support.h"
#include "volcrypt/luks.h"
#include "volcrypt/rbd_backend.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::CephTestbed;
using ::volcrypt::testing::CommandResult;
using ::volcrypt::testing::RbdServiceTest;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::StatusIs;

::testing::Environment* const kCeph =
    ::testing::AddGlobalTestEnvironment(new CephTestbed);

class RbdSectorTest : public RbdServiceTest {
 protected:
  SecretBytes Passphrase(const VolumeRecord& v) {
    return HexPassphrase(keys_->GetKey(v.encryption_key_id).value());
  }

  CommandResult QemuIo(const VolumeRecord& v, const std::string& cmd) {
    const std::string opts = "driver=rbd,pool=" + v.location.pool + ",image=" +
                             v.location.image + ",conf=" + CephTestbed::conf() +
                             ",encrypt.format=luks2,encrypt.key-secret=s0";
    SecretBytes pass = Passphrase(v);
    return RunCommand({"qemu-io", "--object", "secret,id=s0,file=/dev/fd/3",
                       "--image-opts", opts, "-c", cmd},
                      &pass);
  }

  static bool PatternOk(const CommandResult& r) {
    return r.exit_code == 0 && r.out.find("Pattern verification failed") == std::string::npos &&
           r.err.empty();
  }
};

TEST_F(RbdSectorTest, DefaultLuks2VolumeHas4096ByteSectorsAndEveryReaderOpensIt) {
  absl::StatusOr<VolumeRecord> v = Create("s4k", LuksFormat::kLuks2, EncryptionEngine::kLibrbd);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->encryption.sector_size, 4096u);
  // The header says so, and cryptsetup opens its keyslot with the key.
  absl::StatusOr<luks::LuksHeaderImage> header = rbd_->ReadLuksHeader(v->location);
  ASSERT_TRUE(header.ok()) << header.status();
  absl::StatusOr<luks::LuksInfo> info = luks::Inspect(header->path());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->sector_size, 4096u);
  // The image is a memfd ("/proc/self/fd/N"): a child reaches it by our pid.
  std::string path = header->path();
  const size_t self = path.find("/self/");
  if (self != std::string::npos) path.replace(self + 1, 4, std::to_string(getpid()));
  SecretBytes pass = Passphrase(*v);
  CommandResult open = RunCommand({"cryptsetup", "open", "--test-passphrase", "--key-file",
                                   "/dev/fd/3", path},
                                  &pass);
  EXPECT_EQ(open.exit_code, 0) << open.err;
  CommandResult dump = RunCommand({"cryptsetup", "luksDump", path});
  EXPECT_NE(dump.out.find("sector: 4096"), std::string::npos) << dump.out;
  // librbd's own encryption opens it with the whole usable size.
  EXPECT_EQ(*rbd_->VerifyNative(v->location, LuksFormat::kLuks2, Passphrase(*v)), kSize);
  // QEMU through librbd: a 512-byte write inside a 4096-byte sector (the
  // read-modify-write) and the last sector read back.
  CommandResult w = QemuIo(*v, "write -P 0x5a 512 512");
  ASSERT_TRUE(PatternOk(w)) << w.out << w.err;
  CommandResult w2 = QemuIo(*v, "write -P 0x6b " + std::to_string(kSize - 4096) + " 4k");
  ASSERT_TRUE(PatternOk(w2)) << w2.out << w2.err;
  EXPECT_TRUE(PatternOk(QemuIo(*v, "read -P 0x5a 512 512")));
  EXPECT_TRUE(PatternOk(QemuIo(*v, "read -P 0 0 512")));
  EXPECT_TRUE(PatternOk(QemuIo(*v, "read -P 0x6b " + std::to_string(kSize - 4096) + " 4k")));
}

TEST_F(RbdSectorTest, ExplicitSectorSizeIsKept) {
  CreateVolumeRequest r;
  r.id = "s512";
  r.location = VolumeLocation::Rbd("rbd", "volume-s512");
  r.size_bytes = kSize;
  r.encryption.format = LuksFormat::kLuks2;
  r.encryption.engine = EncryptionEngine::kLibrbd;
  r.encryption.sector_size = 512;
  absl::StatusOr<VolumeRecord> v = service_->CreateVolume(r);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->encryption.sector_size, 512u);
  absl::StatusOr<luks::LuksHeaderImage> header = rbd_->ReadLuksHeader(v->location);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(luks::Inspect(header->path())->sector_size, 512u);
  // LUKS1 volumes keep 512 (the only size LUKS1 has).
  absl::StatusOr<VolumeRecord> l1 = Create("s-l1", LuksFormat::kLuks1, EncryptionEngine::kQemu);
  ASSERT_TRUE(l1.ok()) << l1.status();
  EXPECT_EQ(l1->encryption.sector_size, 512u);
}

TEST_F(RbdSectorTest, ExtendKeepsDataAndRefusesSizesThatSplitA4096ByteSector) {
  absl::StatusOr<VolumeRecord> v = Create("sx", LuksFormat::kLuks2, EncryptionEngine::kLibrbd);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_TRUE(PatternOk(QemuIo(*v, "write -P 0x33 0 64k")));
  // 2 x 32 MiB + 512: a multiple of 512 but not of 4096.
  EXPECT_THAT(service_->ExtendVolume(v->id, 2 * kSize + 512),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(store_->GetVolume(v->id)->size_bytes, kSize);
  EXPECT_EQ(store_->GetVolume(v->id)->status, VolumeStatus::kAvailable);
  absl::StatusOr<VolumeRecord> grown = service_->ExtendVolume(v->id, 2 * kSize + 4096);
  ASSERT_TRUE(grown.ok()) << grown.status();
  EXPECT_EQ(grown->size_bytes, 2 * kSize + 4096);
  EXPECT_EQ(*rbd_->VerifyNative(v->location, LuksFormat::kLuks2, Passphrase(*v)),
            2 * kSize + 4096);
  EXPECT_TRUE(PatternOk(QemuIo(*v, "read -P 0x33 0 64k")));
  const std::string last = std::to_string(2 * kSize);
  ASSERT_TRUE(PatternOk(QemuIo(*v, "write -P 0x44 " + last + " 4k")));
  EXPECT_TRUE(PatternOk(QemuIo(*v, "read -P 0x44 " + last + " 4k")));
}

}  // namespace
}  // namespace volcrypt
