// Key rotation of RBD volumes on a real Ceph cluster, both engines: QEMU's
// LUKS driver and librbd's own encryption open the volume with the new
// passphrase and refuse the old one; the data is unchanged. A snapshot keeps
// the header it was taken with and so its key; a clone made after the
// rotation opens with its own recorded key; the old key goes with the last
// snapshot that names it.
#include <gtest/gtest.h>

#include "tests/ceph/ceph_testbed.h"
#include "tests/ceph/rbd_service_test.h"
#include "tests/support/embedded_stack.h"
#include "tests/support/test_support.h"
#include "volcrypt/luks.h"
#include "volcrypt/rbd_backend.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::CephTestbed;
using ::volcrypt::testing::RbdServiceTest;
using ::volcrypt::testing::CommandResult;
using ::volcrypt::testing::EmbeddedStack;
using ::volcrypt::testing::EmbeddedStackOptions;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::TempDir;

::testing::Environment* const kCeph = ::testing::AddGlobalTestEnvironment(new CephTestbed);

class RbdRekeyTest : public RbdServiceTest {
 protected:
  SecretBytes Passphrase(const std::string& key_id) {
    return HexPassphrase(keys_->GetKey(key_id).value());
  }

  // qemu-io through QEMU's LUKS driver over rbd, or librbd's encryption,
  // with `pass`.
  CommandResult QemuIo(const VolumeRecord& v, EncryptionEngine engine,
                       const std::string& cmd, const SecretBytes& pass) {
    const std::string& conf = CephTestbed::conf();
    std::string opts;
    if (engine == EncryptionEngine::kQemu) {
      opts = "driver=luks,key-secret=s0,file.driver=rbd,file.pool=" + v.location.pool +
             ",file.image=" + v.location.image + ",file.conf=" + conf;
    } else {
      opts = "driver=rbd,pool=" + v.location.pool + ",image=" + v.location.image +
             ",conf=" + conf + ",encrypt.format=" +
             (v.encryption.format == LuksFormat::kLuks1 ? "luks" : "luks2") +
             ",encrypt.key-secret=s0";
    }
    return RunCommand({"qemu-io", "--object", "secret,id=s0,file=/dev/fd/3",
                       "--image-opts", opts, "-c", cmd},
                      &pass);
  }

  static bool PatternOk(const CommandResult& r) {
    return r.exit_code == 0 && r.out.find("Pattern verification failed") == std::string::npos &&
           r.err.empty();
  }
};

struct Kind {
  const char* id;
  LuksFormat format;
  EncryptionEngine engine;
  bool native;  // librbd wrote the header itself
};

TEST_F(RbdRekeyTest, BothEnginesOpenWithTheNewPassphraseOnlyAndTheDataIsUnchanged) {
  for (const Kind& k : {Kind{"q1", LuksFormat::kLuks1, EncryptionEngine::kQemu, false},
                        Kind{"l2", LuksFormat::kLuks2, EncryptionEngine::kLibrbd, false},
                        Kind{"n2", LuksFormat::kLuks2, EncryptionEngine::kLibrbd, true}}) {
    SCOPED_TRACE(k.id);
    absl::StatusOr<VolumeRecord> v = Create(k.id, k.format, k.engine, k.native);
    ASSERT_TRUE(v.ok()) << v.status();
    const SecretBytes old_pass = Passphrase(v->encryption_key_id);
    ASSERT_TRUE(PatternOk(QemuIo(*v, k.engine, "write -P 0x5a 0 1M", old_pass)));
    absl::StatusOr<VolumeRecord> after = service_->RotateKey(k.id);
    ASSERT_TRUE(after.ok()) << after.status();
    EXPECT_NE(after->encryption_key_id, v->encryption_key_id);
    const SecretBytes new_pass = Passphrase(after->encryption_key_id);
    EXPECT_TRUE(PatternOk(QemuIo(*after, k.engine, "read -P 0x5a 0 1M", new_pass)));
    if (k.engine == EncryptionEngine::kQemu) {  // librbd reads LUKS1 too
      EXPECT_TRUE(PatternOk(QemuIo(*after, EncryptionEngine::kLibrbd, "read -P 0x5a 0 1M",
                                   new_pass)));
    }
    CommandResult refused = QemuIo(*after, k.engine, "read 0 4k", old_pass);
    EXPECT_NE(refused.exit_code, 0) << "the old passphrase still opens";
    EXPECT_THAT(keys_->GetKey(v->encryption_key_id), StatusIs(absl::StatusCode::kNotFound));
    EXPECT_EQ(service_->VerifyVolumeKey(k.id).status(), absl::OkStatus());
  }
}

TEST_F(RbdRekeyTest, ASnapshotKeepsItsKeyUntilItGoesAndACloneOpensWithItsOwn) {
  absl::StatusOr<VolumeRecord> v = Create("p1", LuksFormat::kLuks1, EncryptionEngine::kQemu);
  ASSERT_TRUE(v.ok()) << v.status();
  const std::string old_id = v->encryption_key_id;
  ASSERT_TRUE(PatternOk(QemuIo(*v, EncryptionEngine::kQemu, "write -P 0x33 0 1M",
                               Passphrase(old_id))));
  ASSERT_TRUE(service_->CreateSnapshot("p1", "s1").ok());
  absl::StatusOr<VolumeRecord> after = service_->RotateKey("p1");
  ASSERT_TRUE(after.ok()) << after.status();
  // The snapshot's header still has the old keyslot: its record and key stay.
  EXPECT_EQ(store_->ListSnapshots("p1")->at(0).encryption_key_id, old_id);
  ASSERT_TRUE(keys_->GetKey(old_id).ok()) << "the snapshot's key was deleted";
  // A clone of it inherits that header, under a key id of its own.
  absl::StatusOr<VolumeRecord> clone =
      service_->CloneVolume("s1", "c1", VolumeLocation::Rbd("rbd", "volume-c1"));
  ASSERT_TRUE(clone.ok()) << clone.status();
  EXPECT_NE(clone->encryption_key_id, old_id);
  EXPECT_EQ(service_->VerifyVolumeKey("c1").status(), absl::OkStatus());
  EXPECT_TRUE(PatternOk(QemuIo(*clone, EncryptionEngine::kQemu, "read -P 0x33 0 1M",
                               Passphrase(clone->encryption_key_id))));
  // The clone rotates on its own too.
  ASSERT_TRUE(service_->RotateKey("c1").ok());
  ASSERT_TRUE(service_->DeleteVolume("c1").ok());
  // The last record naming the old key goes, and the key with it.
  ASSERT_TRUE(service_->DeleteSnapshot("s1").ok());
  EXPECT_THAT(keys_->GetKey(old_id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(keys_->GetKey(after->encryption_key_id).ok());
  EXPECT_TRUE(PatternOk(QemuIo(*after, EncryptionEngine::kQemu, "read -P 0x33 0 1M",
                               Passphrase(after->encryption_key_id))));
}

}  // namespace
}  // namespace volcrypt
