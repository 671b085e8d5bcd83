// ConvertVolume with RBD images on a real Ceph cluster, read back through
// QEMU: QEMU's LUKS driver over rbd for the qemu engine, librbd's own
// encryption (qemu's rbd driver, encrypt.format) for the librbd engine, and
// librbd's rbd_encryption_load (VerifyNative). Each volume holds a pattern
// written before the conversion at its start and past a hole in the middle,
// and a plain source's hole still reads as zeros.
#include <gtest/gtest.h>

#include "tests/ceph/ceph_testbed.h"
#include "tests/ceph/rbd_service_test.h"
#include "tests/support/test_support.h"
#include "volcrypt/rbd_backend.h"
#include "volcrypt/size_rule.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::CephTestbed;
using ::volcrypt::testing::CommandResult;
using ::volcrypt::testing::RbdServiceTest;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::StatusIs;

::testing::Environment* const kCeph = ::testing::AddGlobalTestEnvironment(new CephTestbed);

class RbdConvertTest : public RbdServiceTest {
 protected:
  SecretBytes Passphrase(const std::string& key_id) {
    return HexPassphrase(keys_->GetKey(key_id).value());
  }

  // qemu-io on `v`: plain rbd, QEMU's LUKS driver over rbd, or librbd's
  // encryption, as the record says.
  CommandResult QemuIo(const VolumeRecord& v, const std::string& cmd,
                       const SecretBytes* pass) {
    const std::string& conf = CephTestbed::conf();
    const std::string rbd = "pool=" + v.location.pool + ",image=" + v.location.image +
                            ",conf=" + conf;
    std::string opts;
    if (!v.encrypted) {
      opts = "driver=rbd," + rbd;
    } else if (v.encryption.engine == EncryptionEngine::kQemu) {
      opts = "driver=luks,key-secret=s0,file.driver=rbd,file.pool=" + v.location.pool +
             ",file.image=" + v.location.image + ",file.conf=" + conf;
    } else {
      opts = "driver=rbd," + rbd + ",encrypt.format=" +
             (v.encryption.format == LuksFormat::kLuks1 ? "luks" : "luks2") +
             ",encrypt.key-secret=s0";
    }
    std::vector<std::string> argv = {"qemu-io"};
    if (pass != nullptr) {
      argv.insert(argv.end(), {"--object", "secret,id=s0,file=/dev/fd/3"});
    }
    argv.insert(argv.end(), {"--image-opts", opts, "-c", cmd});
    return RunCommand(argv, pass);
  }

  static bool Ok(const CommandResult& r) {
    return r.exit_code == 0 && r.out.find("Pattern verification failed") == std::string::npos &&
           r.err.empty();
  }

  void WritePattern(const VolumeRecord& v, const SecretBytes* pass) {
    ASSERT_TRUE(Ok(QemuIo(v, "write -P 0xa5 0 1M", pass)));
    ASSERT_TRUE(Ok(QemuIo(v, "write -P 0x5a 16M 1M", pass)));
  }

  bool ReadsPattern(const VolumeRecord& v, const SecretBytes& pass) {
    return Ok(QemuIo(v, "read -P 0xa5 0 1M", &pass)) &&
           Ok(QemuIo(v, "read -P 0x5a 16M 1M", &pass));
  }

  // The plain source's hole (1M to 16M) read as zeros: so must the copy.
  bool ReadsZerosInTheHole(const VolumeRecord& v, const SecretBytes& pass) {
    return Ok(QemuIo(v, "read -P 0 1M 15M", &pass));
  }

  // A plain image "volume-<id>" of kSize, managed, holding the pattern.
  VolumeRecord MakePlain(const std::string& id, EncryptionEngine engine) {
    const VolumeLocation where = VolumeLocation::Rbd("rbd", "volume-" + id);
    EXPECT_TRUE(rbd_->Create(where, kSize).ok());
    ManageVolumeRequest r;
    r.id = id;
    r.location = where;
    r.engine = engine;
    r.key_kind = ManagedKeyKind::kNone;
    absl::StatusOr<VolumeRecord> v = service_->ManageVolume(r);
    EXPECT_TRUE(v.ok()) << v.status();
    WritePattern(*v, nullptr);
    return *v;
  }

  ConvertVolumeRequest Request(const std::string& id, ConversionKind kind, LuksFormat format,
                               EncryptionEngine engine, uint32_t sector = 512) {
    ConvertVolumeRequest r;
    r.id = id;
    r.kind = kind;
    r.target = VolumeLocation::Rbd("rbd", "volume-" + id + "-new");
    r.encryption.format = format;
    r.encryption.engine = engine;
    r.encryption.sector_size = sector;
    return r;
  }

  bool ImageExists(const VolumeLocation& where) { return rbd_->Stat(where).ok(); }
};

TEST_F(RbdConvertTest, APlainImageBecomesLuks1ForQemusEngine) {
  const VolumeRecord before = MakePlain("p1", EncryptionEngine::kQemu);
  absl::StatusOr<VolumeRecord> v = service_->ConvertVolume(
      Request("p1", ConversionKind::kEncrypt, LuksFormat::kLuks1, EncryptionEngine::kQemu));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->encrypted);
  EXPECT_EQ(v->location.image, "volume-p1-new");
  const SecretBytes pass = Passphrase(v->encryption_key_id);
  EXPECT_TRUE(ReadsPattern(*v, pass));
  EXPECT_TRUE(ReadsZerosInTheHole(*v, pass));
  VolumeRecord as_librbd = *v;  // librbd opens QEMU's LUKS1 too
  as_librbd.encryption.engine = EncryptionEngine::kLibrbd;
  EXPECT_TRUE(ReadsPattern(as_librbd, pass));
  EXPECT_FALSE(ImageExists(before.location)) << "the plaintext image is left";
  EXPECT_EQ(rbd_->VerifyNative(v->location, LuksFormat::kLuks1, pass).value(), kSize);
}

TEST_F(RbdConvertTest, APlainImageBecomesLuks2ForLibrbdWith512And4096ByteSectors) {
  for (uint32_t sector : {512u, 4096u}) {
    SCOPED_TRACE(sector);
    const std::string id = "l" + std::to_string(sector);
    MakePlain(id, EncryptionEngine::kLibrbd);
    absl::StatusOr<VolumeRecord> v = service_->ConvertVolume(Request(
        id, ConversionKind::kEncrypt, LuksFormat::kLuks2, EncryptionEngine::kLibrbd, sector));
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->encryption.format, LuksFormat::kLuks2);
    EXPECT_EQ(v->encryption.sector_size, sector);
    const SecretBytes pass = Passphrase(v->encryption_key_id);
    EXPECT_TRUE(ReadsPattern(*v, pass));
    EXPECT_TRUE(ReadsZerosInTheHole(*v, pass));
    EXPECT_EQ(rbd_->VerifyNative(v->location, LuksFormat::kLuks2, pass).value(), kSize);
  }
}

TEST_F(RbdConvertTest, Luks1WithQemusEngineBecomesLuks2WithLibrbdsUnderANewKey) {
  absl::StatusOr<VolumeRecord> before = Create("q1", LuksFormat::kLuks1, EncryptionEngine::kQemu);
  ASSERT_TRUE(before.ok()) << before.status();
  const SecretBytes old_pass = Passphrase(before->encryption_key_id);
  WritePattern(*before, &old_pass);
  absl::StatusOr<VolumeRecord> v = service_->ConvertVolume(Request(
      "q1", ConversionKind::kReencrypt, LuksFormat::kLuks2, EncryptionEngine::kLibrbd, 4096));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->encryption.engine, EncryptionEngine::kLibrbd);
  EXPECT_NE(v->encryption_key_id, before->encryption_key_id);
  EXPECT_TRUE(ReadsPattern(*v, Passphrase(v->encryption_key_id)));
  EXPECT_FALSE(Ok(QemuIo(*v, "read 0 4k", &old_pass))) << "the old key opens the new volume";
  EXPECT_THAT(keys_->GetKey(before->encryption_key_id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_FALSE(ImageExists(before->location));
  EXPECT_EQ(service_->VerifyVolumeKey("q1").status(), absl::OkStatus());
}

TEST_F(RbdConvertTest, Luks1ToLuks1UnderANewKeyTheOldKeyCannotOpen) {
  absl::StatusOr<VolumeRecord> before = Create("k1", LuksFormat::kLuks1, EncryptionEngine::kQemu);
  ASSERT_TRUE(before.ok()) << before.status();
  const SecretBytes old_pass = Passphrase(before->encryption_key_id);
  WritePattern(*before, &old_pass);
  absl::StatusOr<VolumeRecord> v = service_->ConvertVolume(
      Request("k1", ConversionKind::kReencrypt, LuksFormat::kLuks1, EncryptionEngine::kQemu));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(ReadsPattern(*v, Passphrase(v->encryption_key_id)));
  EXPECT_FALSE(Ok(QemuIo(*v, "read 0 4k", &old_pass)));
}

TEST_F(RbdConvertTest, ATargetImageThatExistsIsRefusedAndNothingChanges) {
  const VolumeRecord before = MakePlain("x1", EncryptionEngine::kQemu);
  const VolumeLocation taken = VolumeLocation::Rbd("rbd", "volume-x1-new");
  ASSERT_TRUE(rbd_->Create(taken, 1 << 20).ok());
  EXPECT_THAT(service_->ConvertVolume(Request("x1", ConversionKind::kEncrypt, LuksFormat::kLuks1,
                                              EncryptionEngine::kQemu)),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(store_->GetVolume("x1")->status, VolumeStatus::kAvailable);
  EXPECT_EQ(rbd_->Stat(taken)->raw_bytes, 1u << 20) << "the other image was touched";
  EXPECT_TRUE(Ok(QemuIo(before, "read -P 0xa5 0 1M", nullptr)));
}

TEST_F(RbdConvertTest, AVolumeWithSnapshotsIsRefused) {
  absl::StatusOr<VolumeRecord> v = Create("s1", LuksFormat::kLuks1, EncryptionEngine::kQemu);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_TRUE(service_->CreateSnapshot("s1", "snap1").ok());
  EXPECT_THAT(service_->ConvertVolume(Request("s1", ConversionKind::kReencrypt,
                                              LuksFormat::kLuks1, EncryptionEngine::kQemu)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_FALSE(ImageExists(VolumeLocation::Rbd("rbd", "volume-s1-new")));
  EXPECT_EQ(store_->GetVolume("s1")->status, VolumeStatus::kAvailable);
}

}  // namespace
}  // namespace volcrypt
