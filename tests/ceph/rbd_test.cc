// RBD volumes on a real Ceph cluster: both engines, opened by QEMU and by
// librbd's own encryption; volumes made by librbd and by cinder's path open
// in ours; extend, snapshots, clones; bad input and a killed OSD.
#include <dirent.h>

#include <chrono>

#include <gtest/gtest.h>

#include "tests/ceph/ceph_testbed.h"
#include "tests/ceph/rbd_service_test.h"
#include "tests/support/embedded_stack.h"
#include "tests/support/test_support.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/luks.h"
#include "volcrypt/rbd_backend.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::EmbeddedStack;
using ::volcrypt::testing::EmbeddedStackOptions;
using ::volcrypt::testing::CephTestbed;
using ::volcrypt::testing::RbdServiceTest;
using ::volcrypt::testing::CommandResult;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::StatusIsWith;
using ::volcrypt::testing::TempDir;

::testing::Environment* const kCeph =
    ::testing::AddGlobalTestEnvironment(new CephTestbed);

class RbdTest : public RbdServiceTest {
 protected:
  SecretBytes Passphrase(const VolumeRecord& v) {
    return HexPassphrase(keys_->GetKey(v.encryption_key_id).value());
  }

  // qemu-io through QEMU's LUKS driver over rbd, or librbd's encryption.
  CommandResult QemuIo(const VolumeRecord& v, EncryptionEngine engine,
                       const std::string& cmd) {
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
    SecretBytes pass = Passphrase(v);
    return RunCommand({"qemu-io", "--object", "secret,id=s0,file=/dev/fd/3",
                       "--image-opts", opts, "-c", cmd},
                      &pass);
  }

  static bool PatternOk(const CommandResult& r) {
    return r.exit_code == 0 && r.out.find("Pattern verification failed") == std::string::npos &&
           r.err.empty();
  }

  // Promise 1 and no orphans: every recorded key exists, every key file is
  // referenced by a record.
  void ExpectKeysConsistent() {
    std::set<std::string> referenced;
    const std::vector<VolumeRecord> volumes = store_->ListVolumes({}).value();
    for (const VolumeRecord& v : volumes) {
      if (v.encryption_key_id.empty()) continue;
      referenced.insert(v.encryption_key_id);
      EXPECT_TRUE(keys_->GetKey(v.encryption_key_id).ok()) << "volume " << v.id;
    }
    DIR* d = opendir(tmp_.File("keys").c_str());
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name.size() == 40 && name.substr(36) == ".key") {
        EXPECT_EQ(referenced.count(name.substr(0, 36)), 1u) << "orphaned key " << name;
      }
    }
    closedir(d);
  }
};

TEST_F(RbdTest, QemuEngineVolumeIsReadByQemuAndByLibrbd) {
  absl::StatusOr<VolumeRecord> v = Create("q1", LuksFormat::kLuks1, EncryptionEngine::kQemu);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*service_->VerifyVolumeKey(v->id), 0);
  // Written through QEMU's LUKS driver, read through librbd's encryption.
  CommandResult w = QemuIo(*v, EncryptionEngine::kQemu, "write -P 0xa1 0 1M");
  ASSERT_TRUE(PatternOk(w)) << w.out << w.err;
  CommandResult r = QemuIo(*v, EncryptionEngine::kLibrbd, "read -P 0xa1 0 1M");
  EXPECT_TRUE(PatternOk(r)) << r.out << r.err;
  EXPECT_EQ(*rbd_->VerifyNative(v->location, LuksFormat::kLuks1, Passphrase(*v)), kSize);
}

TEST_F(RbdTest, LibrbdEngineLuks2HeaderFromTheLuksCoreLoadsInLibrbd) {
  absl::StatusOr<VolumeRecord> v = Create("l2", LuksFormat::kLuks2, EncryptionEngine::kLibrbd);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*rbd_->VerifyNative(v->location, LuksFormat::kLuks2, Passphrase(*v)), kSize);
  EXPECT_THAT(rbd_->VerifyNative(v->location, LuksFormat::kLuks2,
                                 HexPassphrase(SecretBytes::Random(32).value())),
              StatusIs(absl::StatusCode::kPermissionDenied));
  CommandResult w = QemuIo(*v, EncryptionEngine::kLibrbd, "write -P 0xb2 0 1M");
  ASSERT_TRUE(PatternOk(w)) << w.out << w.err;
  CommandResult r = QemuIo(*v, EncryptionEngine::kLibrbd, "read -P 0xb2 0 1M");
  EXPECT_TRUE(PatternOk(r)) << r.out << r.err;
  EXPECT_EQ(*service_->VerifyVolumeKey(v->id), 0);
}

TEST_F(RbdTest, LibrbdEngineLuks1HeaderFromTheLuksCoreLoadsInLibrbd) {
  absl::StatusOr<VolumeRecord> v = Create("l1", LuksFormat::kLuks1, EncryptionEngine::kLibrbd);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*rbd_->VerifyNative(v->location, LuksFormat::kLuks1, Passphrase(*v)), kSize);
}

TEST_F(RbdTest, VolumeFormattedByLibrbdItselfOpensInOurs) {
  for (LuksFormat format : {LuksFormat::kLuks1, LuksFormat::kLuks2}) {
    const std::string id = std::string("native-") + std::string(LuksFormatName(format));
    absl::StatusOr<VolumeRecord> v = Create(id, format, EncryptionEngine::kLibrbd, true);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_GE(*service_->VerifyVolumeKey(v->id), 0);
    absl::StatusOr<luks::LuksHeaderImage> header = rbd_->ReadLuksHeader(v->location);
    ASSERT_TRUE(header.ok());
    EXPECT_EQ(luks::Inspect(header->path())->format, format);
  }
}

TEST_F(RbdTest, RbdCliEncryptionFormatOpensInOurs) {
  const std::string conf = CephTestbed::conf();
  ASSERT_EQ(RunCommand({"rbd", "-c", conf, "create", "--size", "32M", "rbd/cli-made"}).exit_code, 0);
  SecretBytes pass = HexPassphrase(SecretBytes::Random(32).value());
  CommandResult f = RunCommand({"rbd", "-c", conf, "encryption", "format", "rbd/cli-made",
                                "luks1", "/dev/fd/3"}, &pass);
  ASSERT_EQ(f.exit_code, 0) << f.err;
  absl::StatusOr<luks::LuksHeaderImage> header =
      rbd_->ReadLuksHeader(VolumeLocation::Rbd("rbd", "cli-made"));
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_GE(*luks::VerifyPassphrase(header->path(), pass), 0);
}

TEST_F(RbdTest, CindersQemuImgPlusRbdImportOpensInOurs) {
  SecretBytes pass = HexPassphrase(SecretBytes::Random(32).value());
  const std::string file = tmp_.File("cinder.luks");
  CommandResult made;
  for (int attempt = 0; attempt < 8 && made.exit_code != 0; ++attempt) {
    made = RunCommand({"qemu-img", "create", "-f", "luks", "--object",
                       "secret,id=s0,file=/dev/fd/3", "-o", "key-secret=s0,iter-time=50",
                       file, "16M"}, &pass);
  }
  ASSERT_EQ(made.exit_code, 0) << made.err;
  ASSERT_EQ(RunCommand({"rbd", "-c", CephTestbed::conf(), "import", file,
                        "rbd/cinder-made"}).exit_code, 0);
  absl::StatusOr<luks::LuksHeaderImage> header =
      rbd_->ReadLuksHeader(VolumeLocation::Rbd("rbd", "cinder-made"));
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_GE(*luks::VerifyPassphrase(header->path(), pass), 0);
}

TEST_F(RbdTest, ExtendGivesTheExactUsableSizeOnBothEngines) {
  absl::StatusOr<VolumeRecord> q = Create("xq", LuksFormat::kLuks1, EncryptionEngine::kQemu);
  absl::StatusOr<VolumeRecord> l = Create("xl", LuksFormat::kLuks2, EncryptionEngine::kLibrbd);
  ASSERT_TRUE(q.ok() && l.ok());
  ASSERT_TRUE(service_->ExtendVolume(q->id, 3 * kSize).ok());
  ASSERT_TRUE(service_->ExtendVolume(l->id, 3 * kSize).ok());
  EXPECT_EQ(*rbd_->VerifyNative(l->location, LuksFormat::kLuks2, Passphrase(*l)), 3 * kSize);
  EXPECT_EQ(*rbd_->VerifyNative(q->location, LuksFormat::kLuks1, Passphrase(*q)), 3 * kSize);
  CommandResult r = QemuIo(*q, EncryptionEngine::kQemu, "write -P 0x11 " +
                                                            std::to_string(3 * kSize - 4096) +
                                                            " 4k");
  EXPECT_TRUE(PatternOk(r)) << r.out << r.err;
}

TEST_F(RbdTest, CloneOfASnapshotOpensWithItsOwnKeyIdHoldingTheSameBytes) {
  absl::StatusOr<VolumeRecord> parent = Create("parent", LuksFormat::kLuks1,
                                               EncryptionEngine::kQemu);
  ASSERT_TRUE(parent.ok());
  ASSERT_TRUE(PatternOk(QemuIo(*parent, EncryptionEngine::kQemu, "write -P 0x77 0 1M")));
  absl::StatusOr<SnapshotRecord> snap = service_->CreateSnapshot(parent->id, "s1");
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ(snap->encryption_key_id, parent->encryption_key_id);
  absl::StatusOr<VolumeRecord> clone =
      service_->CloneVolume("s1", "child", VolumeLocation::Rbd("rbd", "volume-child"));
  ASSERT_TRUE(clone.ok()) << clone.status();
  EXPECT_NE(clone->encryption_key_id, parent->encryption_key_id);
  EXPECT_TRUE(Passphrase(*clone).Equals(Passphrase(*parent)));
  EXPECT_EQ(*service_->VerifyVolumeKey("child"), 0);
  EXPECT_TRUE(PatternOk(QemuIo(*clone, EncryptionEngine::kQemu, "read -P 0x77 0 1M")));

  EXPECT_THAT(service_->DeleteVolume(parent->id),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "snapshot"));
  EXPECT_THAT(service_->DeleteSnapshot("s1"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_TRUE(service_->DeleteVolume("child").ok());
  ASSERT_TRUE(service_->DeleteSnapshot("s1").ok());
  ASSERT_TRUE(service_->DeleteVolume(parent->id).ok());
  ExpectKeysConsistent();
  EXPECT_TRUE(store_->ListVolumes({})->empty());
}

TEST_F(RbdTest, MissingPoolAndTakenImageCreateNothing) {
  CreateVolumeRequest r;
  r.id = "nopool";
  r.location = VolumeLocation::Rbd("no-such-pool", "volume-x");
  r.size_bytes = kSize;
  EXPECT_THAT(service_->CreateVolume(r), StatusIsWith(absl::StatusCode::kNotFound, "no-such-pool"));
  ASSERT_EQ(RunCommand({"rbd", "-c", CephTestbed::conf(), "create", "--size", "8M",
                        "rbd/taken"}).exit_code, 0);
  r.id = "taken";
  r.location = VolumeLocation::Rbd("rbd", "taken");
  EXPECT_THAT(service_->CreateVolume(r), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(rbd_->Stat(r.location)->raw_bytes, 8u << 20);
  EXPECT_TRUE(store_->ListVolumes({})->empty());
  ExpectKeysConsistent();
}

TEST_F(RbdTest, UnreachableClusterFailsWithinTheTimeout) {
  const std::string conf = tmp_.File("dead.conf");
  RunCommand({"sh", "-c", "printf '[global]\\nmon host = v2:127.0.0.1:9\\n' > " + conf});
  RbdBackendOptions o;
  o.ceph_conf = conf;
  o.keyring = CephTestbed::dir() + "/keyring";
  o.timeout_seconds = 2;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(RbdBackend::Connect(o), StatusIsWith(absl::StatusCode::kUnavailable, "2 s"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
}

// Last: it kills the cluster's only OSD.
TEST_F(RbdTest, ZzOsdKilledDuringCreateLeavesNoAvailableVolumeAndNoOrphanedKey) {
  CephTestbed::KillOsd();
  absl::StatusOr<VolumeRecord> v = Create("dead-osd", LuksFormat::kLuks1,
                                          EncryptionEngine::kQemu);
  EXPECT_FALSE(v.ok());
  absl::StatusOr<VolumeRecord> rec = store_->GetVolume("dead-osd");
  if (rec.ok()) {
    // The rollback could not reach the image either: the record stays in
    // 'creating', holding its key, for Reconcile once the cluster is back.
    EXPECT_EQ(rec->status, VolumeStatus::kCreating);
  }
  ExpectKeysConsistent();
}

}  // namespace
}  // namespace volcrypt
