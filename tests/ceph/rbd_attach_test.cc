// RBD volumes attached for real: a Ceph cluster and a private libvirtd in
// one test program. QEMU's engine hot-plugs LUKS1; librbd's engine (LUKS2)
// attaches cold, since libvirt 9.0 cannot hot-plug it.
#include <gtest/gtest.h>

#include "tests/ceph/ceph_testbed.h"
#include "tests/libvirt/libvirt_testbed.h"
#include "tests/support/embedded_stack.h"
#include "tests/support/test_support.h"
#include "volcrypt/attacher.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/rbd_backend.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::EmbeddedStack;
using ::volcrypt::testing::EmbeddedStackOptions;
using ::volcrypt::testing::CephTestbed;
using ::volcrypt::testing::LibvirtProbe;
using ::volcrypt::testing::LibvirtTestbed;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::TempDir;

::testing::Environment* const kCeph =
    ::testing::AddGlobalTestEnvironment(new CephTestbed);
::testing::Environment* const kLibvirt =
    ::testing::AddGlobalTestEnvironment(new LibvirtTestbed);

constexpr uint64_t kSize = 32 << 20;
constexpr char kDomain[] = "volcrypt-rbd";
constexpr char kCephSecret[] = "c3c3c3c3-0000-4000-8000-000000000001";

class RbdAttachTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (CephTestbed::conf().empty()) GTEST_SKIP() << CephTestbed::skip_reason();
    if (LibvirtTestbed::uri().empty()) GTEST_SKIP() << LibvirtTestbed::skip_reason();
    DefineCephSecret();
    RbdBackendOptions ro;
    ro.ceph_conf = CephTestbed::conf();
    ro.libvirt_auth_secret_uuid = kCephSecret;
    rbd_ = std::move(RbdBackend::Connect(ro).value());
    attacher_ = std::move(Attacher::Connect(LibvirtTestbed::uri()).value());
    EmbeddedStackOptions o;
    o.dir = tmp_.path();
    o.rbd = rbd_.get();
    o.attacher = attacher_.get();
    stack_ = std::move(EmbeddedStack::Open(std::move(o)).value());
    keys_ = &stack_->keys();
    store_ = &stack_->store();
    service_ = &stack_->service();
  }

  void TearDown() override {
    if (LibvirtTestbed::uri().empty() || CephTestbed::conf().empty()) return;
    probe_.DestroyAndUndefine(kDomain);
  }

  // The cephx key of client.admin in libvirt's secret of usage 'ceph', put
  // there by volcrypt from the cluster's keyring (`ceph-secret define`), so
  // every QEMU open below proves the value right.
  void DefineCephSecret() {
    RbdBackendOptions ro;
    ro.ceph_conf = CephTestbed::conf();
    absl::StatusOr<SecretBytes> key = ReadCephxKey(ro);
    ASSERT_TRUE(key.ok()) << key.status();
    auto libvirt = Attacher::Connect(LibvirtTestbed::uri()).value();
    absl::StatusOr<std::string> uuid = libvirt->DefineCephSecret(kCephSecret, "admin", *key);
    ASSERT_TRUE(uuid.ok()) << uuid.status();
    EXPECT_EQ(*uuid, kCephSecret);
  }

  VolumeRecord Create(const std::string& id, LuksFormat format, EncryptionEngine engine) {
    CreateVolumeRequest r;
    r.id = id;
    r.location = VolumeLocation::Rbd("rbd", "volume-" + id);
    r.size_bytes = kSize;
    r.encryption.format = format;
    r.encryption.engine = engine;
    absl::StatusOr<VolumeRecord> v = service_->CreateVolume(r);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : VolumeRecord();
  }

  TempDir tmp_;
  LibvirtProbe probe_;
  std::unique_ptr<RbdBackend> rbd_;
  std::unique_ptr<Attacher> attacher_;
  std::unique_ptr<EmbeddedStack> stack_;
  KeyManager* keys_ = nullptr;
  VolumeStore* store_ = nullptr;
  VolumeService* service_ = nullptr;
};

TEST_F(RbdAttachTest, QemuEngineRbdVolumeHotPlugsAndQemuDecrypts) {
  probe_.DefineDomain(kDomain, /*start=*/true);
  VolumeRecord v = Create("hot", LuksFormat::kLuks1, EncryptionEngine::kQemu);
  AttachTarget live;
  live.domain = kDomain;
  absl::StatusOr<VolumeRecord> a = service_->AttachVolume(v.id, live, {});
  ASSERT_TRUE(a.ok()) << a.status();
  const std::string block = probe_.Hmp(kDomain, "info block");
  EXPECT_NE(block.find("\"driver\": \"luks\""), std::string::npos) << block;
  EXPECT_NE(block.find("\"driver\": \"rbd\""), std::string::npos) << block;
  EXPECT_EQ(probe_.Capacity(kDomain, "sdb"), kSize);
  const std::string wrote = probe_.Hmp(kDomain, "qemu-io -d scsi0-0-0-1 \"write -P 0x3c 0 64k\"");
  EXPECT_EQ(wrote.find("rror"), std::string::npos) << wrote;
  ASSERT_TRUE(service_->DetachVolume(v.id).ok());
  EXPECT_EQ(probe_.SecretWithUsage(SecretUsageId(v.id)), "");
  // Read back outside libvirt through librbd's own encryption.
  SecretBytes pass = HexPassphrase(keys_->GetKey(v.encryption_key_id).value());
  auto r = RunCommand({"qemu-io", "--object", "secret,id=s0,file=/dev/fd/3", "--image-opts",
                       "driver=rbd,pool=rbd,image=" + v.location.image + ",conf=" +
                           CephTestbed::conf() + ",encrypt.format=luks,encrypt.key-secret=s0",
                       "-c", "read -P 0x3c 0 64k"},
                      &pass);
  EXPECT_EQ(r.out.find("Pattern verification failed"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("read 65536/65536"), std::string::npos) << r.out << r.err;
}

TEST_F(RbdAttachTest, LibrbdEngineLuks2AttachesColdAndIsRefusedLive) {
  probe_.DefineDomain(kDomain, /*start=*/false);
  VolumeRecord v = Create("cold", LuksFormat::kLuks2, EncryptionEngine::kLibrbd);
  AttachTarget live;
  live.domain = kDomain;
  EXPECT_FALSE(service_->AttachVolume(v.id, live, {}).ok());
  AttachTarget config;
  config.domain = kDomain;
  config.live = false;
  config.config = true;
  ASSERT_TRUE(service_->AttachVolume(v.id, config, {}).ok());
  probe_.StartPaused(kDomain);
  // QEMU's info block does not show librbd's encryption options; that the
  // guest sees the payload size, not the 48 MiB image, shows librbd loaded
  // the LUKS2 header with the key from the secret.
  EXPECT_EQ(rbd_->Stat(v.location)->raw_bytes, kSize + (16 << 20));
  EXPECT_EQ(probe_.Capacity(kDomain, "sdb"), kSize);
  const std::string block = probe_.Hmp(kDomain, "info block");
  EXPECT_NE(block.find("\"driver\": \"rbd\""), std::string::npos) << block;
  probe_.DestroyAndUndefine(kDomain);
  probe_.DefineDomain(kDomain, false);
  ASSERT_TRUE(service_->DetachVolume(v.id).ok());
  EXPECT_EQ(probe_.SecretWithUsage(SecretUsageId(v.id)), "");
}

// Issue #13: an image cinder made (qemu-img create -f luks, rbd import) and
// QEMU wrote to before volcrypt knew it, managed with its key, hot-plugs
// and the guest reads what was written before the adoption.
TEST_F(RbdAttachTest, AManagedCinderImageHotPlugsAndTheGuestReadsItsOldData) {
  const SecretBytes key = SecretBytes::Random(32).value();
  const SecretBytes pass = HexPassphrase(key);
  const std::string file = tmp_.File("cinder.luks");
  ::volcrypt::testing::CommandResult made;
  for (int attempt = 0; attempt < 8 && made.exit_code != 0; ++attempt) {
    made = RunCommand({"qemu-img", "create", "-f", "luks", "--object",
                       "secret,id=s0,file=/dev/fd/3", "-o", "key-secret=s0,iter-time=50",
                       file, "32M"},
                      &pass);
  }
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto written = RunCommand({"qemu-io", "--object", "secret,id=s0,file=/dev/fd/3",
                             "--image-opts", "driver=luks,key-secret=s0,file.filename=" + file,
                             "-c", "write -P 0x4d 0 64k"},
                            &pass);
  ASSERT_EQ(written.exit_code, 0) << written.err;
  ASSERT_EQ(RunCommand({"rbd", "-c", CephTestbed::conf(), "import", file,
                        "rbd/managed-cinder"}).exit_code, 0);
  ManageVolumeRequest req;
  req.id = "managed";
  req.location = VolumeLocation::Rbd("rbd", "managed-cinder");
  req.key_kind = ManagedKeyKind::kKeyBytes;
  req.secret = key.Clone();
  absl::StatusOr<VolumeRecord> v = service_->ManageVolume(req);
  ASSERT_TRUE(v.ok()) << v.status();
  probe_.DefineDomain(kDomain, /*start=*/true);
  AttachTarget live;
  live.domain = kDomain;
  absl::StatusOr<VolumeRecord> a = service_->AttachVolume(v->id, live, {});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(probe_.Capacity(kDomain, "sdb"), 32u << 20);
  const std::string read = probe_.Hmp(kDomain, "qemu-io -d scsi0-0-0-1 \"read -P 0x4d 0 64k\"");
  EXPECT_EQ(read.find("Pattern verification failed"), std::string::npos) << read;
  EXPECT_EQ(read.find("rror"), std::string::npos) << read;
  ASSERT_TRUE(service_->DetachVolume(v->id).ok());
  ASSERT_TRUE(service_->UnmanageVolume(v->id).ok());
  EXPECT_TRUE(rbd_->Stat(req.location).ok());
}

// An `rbd encryption format` LUKS2 image (ceph-csi), managed with its
// passphrase for the librbd engine: refused live, attached cold, and
// librbd opens it with the passphrase as it is (the guest sees the payload).
TEST_F(RbdAttachTest, AManagedLibrbdLuks2ImageAttachesColdWithItsPassphrase) {
  const std::string conf = CephTestbed::conf();
  ASSERT_EQ(RunCommand({"rbd", "-c", conf, "create", "--size", "48M", "rbd/managed-csi"})
                .exit_code, 0);
  const std::string phrase = "a ceph-csi passphrase of some length";
  const SecretBytes pass = SecretBytes::CopyOf(phrase.data(), phrase.size());
  auto f = RunCommand({"rbd", "-c", conf, "encryption", "format", "rbd/managed-csi", "luks2",
                       "/dev/fd/3"},
                      &pass);
  ASSERT_EQ(f.exit_code, 0) << f.err;
  ManageVolumeRequest req;
  req.id = "csi";
  req.location = VolumeLocation::Rbd("rbd", "managed-csi");
  req.engine = EncryptionEngine::kLibrbd;
  req.key_kind = ManagedKeyKind::kPassphrase;
  req.secret = pass.Clone();
  absl::StatusOr<VolumeRecord> v = service_->ManageVolume(req);
  ASSERT_TRUE(v.ok()) << v.status();
  probe_.DefineDomain(kDomain, /*start=*/false);
  AttachTarget live;
  live.domain = kDomain;
  EXPECT_FALSE(service_->AttachVolume(v->id, live, {}).ok());
  AttachTarget config;
  config.domain = kDomain;
  config.live = false;
  config.config = true;
  ASSERT_TRUE(service_->AttachVolume(v->id, config, {}).ok());
  probe_.StartPaused(kDomain);
  EXPECT_EQ(probe_.Capacity(kDomain, "sdb"), v->size_bytes);
  EXPECT_LT(v->size_bytes, 48u << 20);
  probe_.DestroyAndUndefine(kDomain);
  probe_.DefineDomain(kDomain, false);
  ASSERT_TRUE(service_->DetachVolume(v->id).ok());
}

// Online conversion (lib/volumes/online_conversion.h) of an RBD volume: an
// attached QEMU-LUKS1 image gets a new volume key through blockcopy while
// QEMU writes; after the pivot QEMU decrypts the new image, the old image
// and key are gone, and every byte written before and during the copy reads
// back through librbd's encryption with the new key only.
TEST_F(RbdAttachTest, AnAttachedRbdVolumeGetsANewKeyOnlineWhileQemuWrites) {
  probe_.DefineDomain(kDomain, /*start=*/true);
  const VolumeRecord v = Create("onl", LuksFormat::kLuks1, EncryptionEngine::kQemu);
  AttachTarget live;
  live.domain = kDomain;
  ASSERT_TRUE(service_->AttachVolume(v.id, live, {}).ok());
  auto write = [&](int pattern, uint64_t offset, uint64_t len) {
    const std::string out = probe_.Hmp(
        kDomain, "qemu-io -d scsi0-0-0-1 \"write -P " + std::to_string(pattern) + " " +
                     std::to_string(offset) + " " + std::to_string(len) + "\"");
    EXPECT_EQ(out.find("rror"), std::string::npos) << out;
  };
  write(0xd4, 0, 1 << 20);
  ConvertVolumeRequest r;
  r.id = v.id;
  r.kind = ConversionKind::kReencrypt;
  r.target = VolumeLocation::Rbd("rbd", "volume-onl-new");
  int writes = 0;
  r.progress = [&](uint64_t, uint64_t) {
    if (writes < 4) write(0xe0 + writes, (2 + 5 * writes) << 20, 64 << 10), ++writes;
  };
  absl::StatusOr<VolumeRecord> c = service_->ConvertVolume(r);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_GT(writes, 0);
  EXPECT_EQ(c->status, VolumeStatus::kInUse);
  EXPECT_EQ(c->location.image, "volume-onl-new");
  EXPECT_NE(c->encryption_key_id, v.encryption_key_id);
  EXPECT_TRUE(absl::IsNotFound(keys_->GetKey(v.encryption_key_id).status()));
  EXPECT_TRUE(absl::IsNotFound(rbd_->Stat(v.location).status()));
  EXPECT_EQ(store_->GetAttachment(v.id)->secret_uuid,
            ConversionSecretUuid(v.id, c->encryption_key_id));
  const std::string block = probe_.Hmp(kDomain, "info block");
  EXPECT_NE(block.find("\"driver\": \"luks\""), std::string::npos) << block;
  EXPECT_NE(block.find("volume-onl-new"), std::string::npos) << block;
  ASSERT_TRUE(service_->DetachVolume(v.id).ok());
  std::vector<std::string> argv = {
      "qemu-io", "--object", "secret,id=s0,file=/dev/fd/3", "--image-opts",
      "driver=rbd,pool=rbd,image=volume-onl-new,conf=" + CephTestbed::conf() +
          ",encrypt.format=luks,encrypt.key-secret=s0",
      "-c", "read -P 0xd4 0 1M"};
  for (int i = 0; i < writes; ++i) {
    argv.push_back("-c");
    argv.push_back("read -P " + std::to_string(0xe0 + i) + " " +
                   std::to_string((2 + 5 * i) << 20) + " 64k");
  }
  SecretBytes pass = HexPassphrase(keys_->GetKey(c->encryption_key_id).value());
  auto read = RunCommand(argv, &pass);
  EXPECT_EQ(read.out.find("verification failed"), std::string::npos) << read.out << read.err;
  EXPECT_NE(read.out.find("read 1048576/1048576"), std::string::npos) << read.out << read.err;
  EXPECT_EQ(read.err.find("rror"), std::string::npos) << read.err;
}

}  // namespace
}  // namespace volcrypt
