// What a current libvirt lifts for the librbd engine, asserted on both
// stacks: Debian 12's libvirt 9.0 / QEMU 7.2 never hands QEMU the secret of
// a hot-plugged librbd-engine disk, so volcrypt refuses the live attach and
// the online conversion to such a disk and changes nothing; Debian 13's
// libvirt 11.3 / QEMU 10.0 (VOLCRYPT_CURRENT_STACK=1, tests/scripts/
// current_stack.sh) does, and volcrypt's own probe lets both
// through: the guest's data is read back through librbd's LUKS2.
#include <gtest/gtest.h>

#include <iostream>

#include "tests/ceph/ceph_testbed.h"
#include "tests/libvirt/libvirt_testbed.h"
#include "tests/support/embedded_stack.h"
#include "tests/support/test_support.h"
#include "volcrypt/attacher.h"
#include "volcrypt/rbd_backend.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::CephTestbed;
using ::volcrypt::testing::EmbeddedStack;
using ::volcrypt::testing::EmbeddedStackOptions;
using ::volcrypt::testing::LibvirtProbe;
using ::volcrypt::testing::LibvirtTestbed;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::TempDir;

::testing::Environment* const kCeph = ::testing::AddGlobalTestEnvironment(new CephTestbed);
::testing::Environment* const kLibvirt =
    ::testing::AddGlobalTestEnvironment(new LibvirtTestbed);

constexpr uint64_t kSize = 32 << 20;
constexpr char kDomain[] = "volcrypt-lift";
constexpr char kCephSecret[] = "c3c3c3c3-0000-4000-8000-000000000017";
// The guest's view of the disk on sdb (bus scsi, unit 1).
constexpr char kGuestDisk[] = "scsi0-0-0-1";

class RbdEngineLiftTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (CephTestbed::conf().empty()) GTEST_SKIP() << CephTestbed::skip_reason();
    if (LibvirtTestbed::uri().empty()) GTEST_SKIP() << LibvirtTestbed::skip_reason();
    RbdBackendOptions ro;
    ro.ceph_conf = CephTestbed::conf();
    absl::StatusOr<SecretBytes> key = ReadCephxKey(ro);
    ASSERT_TRUE(key.ok()) << key.status();
    attacher_ = std::move(Attacher::Connect(LibvirtTestbed::uri()).value());
    ASSERT_TRUE(attacher_->DefineCephSecret(kCephSecret, "admin", *key).ok());
    ro.libvirt_auth_secret_uuid = kCephSecret;
    rbd_ = std::move(RbdBackend::Connect(ro).value());
    EmbeddedStackOptions o;
    o.dir = tmp_.path();
    o.rbd = rbd_.get();
    o.attacher = attacher_.get();
    stack_ = std::move(EmbeddedStack::Open(std::move(o)).value());
    service_ = &stack_->service();
    probe_.DefineDomain(kDomain, /*start=*/true);
    // The bed is the stack it claims to be (libvirt's own answer, over the
    // socket: the daemon's version, whatever the client library's).
    unsigned long version = 0;  // NOLINT(runtime/int): libvirt's type
    ASSERT_EQ(virConnectGetLibVersion(probe_.conn(), &version), 0);
    std::cout << "libvirtd " << version / 1000000 << "." << version / 1000 % 1000 << "\n";
    EXPECT_EQ(version >= 11000000, LibvirtTestbed::CurrentStack()) << version;
  }

  void TearDown() override {
    if (LibvirtTestbed::uri().empty() || CephTestbed::conf().empty()) return;
    probe_.DestroyAndUndefine(kDomain);
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

  // QEMU's own qemu-io inside the guest's disk (no guest OS needed).
  std::string GuestIo(const std::string& command) {
    return probe_.Hmp(kDomain, std::string("qemu-io -d ") + kGuestDisk + " \"" + command + "\"");
  }

  // Reads through librbd's encryption outside libvirt, with the volume's key.
  std::string ReadThroughLibrbd(const VolumeRecord& v, const std::string& format,
                                const std::string& command) {
    SecretBytes pass = HexPassphrase(stack_->keys().GetKey(v.encryption_key_id).value());
    auto r = RunCommand({"qemu-io", "-r", "--object", "secret,id=s0,file=/dev/fd/3",
                         "--image-opts",
                         "driver=rbd,pool=rbd,image=" + v.location.image + ",conf=" +
                             CephTestbed::conf() + ",encrypt.format=" + format +
                             ",encrypt.key-secret=s0",
                         "-c", command},
                        &pass);
    return r.out + r.err;
  }

  TempDir tmp_;
  LibvirtProbe probe_;
  std::unique_ptr<RbdBackend> rbd_;
  std::unique_ptr<Attacher> attacher_;
  std::unique_ptr<EmbeddedStack> stack_;
  VolumeService* service_ = nullptr;
};

TEST_F(RbdEngineLiftTest, LibrbdLuks2VolumeHotPlugsWhereLibvirtCanAndIsRefusedUntouchedWhereNot) {
  VolumeRecord v = Create("hot2", LuksFormat::kLuks2, EncryptionEngine::kLibrbd);
  AttachTarget live;
  live.domain = kDomain;
  absl::StatusOr<VolumeRecord> a = service_->AttachVolume(v.id, live, {});
  if (!LibvirtTestbed::CurrentStack()) {
    EXPECT_EQ(a.status().code(), absl::StatusCode::kFailedPrecondition) << a.status();
    EXPECT_NE(a.status().message().find("hot-plug"), std::string::npos) << a.status();
    EXPECT_EQ(stack_->store().GetVolume(v.id)->status, VolumeStatus::kAvailable);
    EXPECT_EQ(probe_.SecretWithUsage(SecretUsageId(v.id)), "");
    EXPECT_EQ(probe_.DomainXml(kDomain, false).find(v.location.image), std::string::npos);
    return;
  }
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->status, VolumeStatus::kInUse);
  // The guest sees the payload, not the image: librbd loaded the LUKS2
  // header with the key libvirt handed QEMU.
  EXPECT_EQ(rbd_->Stat(v.location)->raw_bytes, kSize + (16 << 20));
  EXPECT_EQ(probe_.Capacity(kDomain, "sdb"), kSize);
  const std::string wrote = GuestIo("write -P 0x5a 1M 64k");
  EXPECT_EQ(wrote.find("rror"), std::string::npos) << wrote;
  ASSERT_TRUE(service_->DetachVolume(v.id).ok());
  EXPECT_EQ(probe_.SecretWithUsage(SecretUsageId(v.id)), "");
  const std::string read = ReadThroughLibrbd(v, "luks2", "read -P 0x5a 1M 64k");
  EXPECT_EQ(read.find("verification failed"), std::string::npos) << read;
  EXPECT_NE(read.find("read 65536/65536"), std::string::npos) << read;
}

TEST_F(RbdEngineLiftTest, AttachedVolumeConvertsOnlineToLibrbdLuks2WhereLibvirtCan) {
  VolumeRecord v = Create("conv", LuksFormat::kLuks1, EncryptionEngine::kQemu);
  AttachTarget live;
  live.domain = kDomain;
  ASSERT_TRUE(service_->AttachVolume(v.id, live, {}).ok());
  const std::string wrote = GuestIo("write -P 0x33 2M 64k");
  ASSERT_EQ(wrote.find("rror"), std::string::npos) << wrote;

  ConvertVolumeRequest r;
  r.id = v.id;
  r.kind = ConversionKind::kReencrypt;
  r.target = VolumeLocation::Rbd("rbd", "volume-conv-librbd");
  r.encryption.format = LuksFormat::kLuks2;
  r.encryption.engine = EncryptionEngine::kLibrbd;
  absl::StatusOr<VolumeRecord> c = service_->ConvertVolume(r);
  if (!LibvirtTestbed::CurrentStack()) {
    EXPECT_EQ(c.status().code(), absl::StatusCode::kUnimplemented) << c.status();
    absl::StatusOr<VolumeRecord> now = stack_->store().GetVolume(v.id);
    EXPECT_EQ(now->status, VolumeStatus::kInUse);
    EXPECT_EQ(now->location.image, v.location.image);
    EXPECT_EQ(now->encryption_key_id, v.encryption_key_id);
    EXPECT_FALSE(rbd_->Stat(r.target).ok());
    ASSERT_TRUE(service_->DetachVolume(v.id).ok());
    return;
  }
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->status, VolumeStatus::kInUse);
  EXPECT_EQ(c->location.image, "volume-conv-librbd");
  EXPECT_EQ(c->encryption.engine, EncryptionEngine::kLibrbd);
  EXPECT_EQ(c->encryption.format, LuksFormat::kLuks2);
  EXPECT_NE(c->encryption_key_id, v.encryption_key_id);
  // The guest's disk is the new image now, and its old bytes are there.
  EXPECT_NE(probe_.DomainXml(kDomain, false).find("rbd/volume-conv-librbd"), std::string::npos);
  EXPECT_EQ(probe_.Capacity(kDomain, "sdb"), kSize);
  const std::string read = GuestIo("read -P 0x33 2M 64k");
  EXPECT_EQ(read.find("verification failed"), std::string::npos) << read;
  EXPECT_EQ(read.find("rror"), std::string::npos) << read;
  ASSERT_TRUE(service_->DetachVolume(v.id).ok());
  const std::string outside = ReadThroughLibrbd(*c, "luks2", "read -P 0x33 2M 64k");
  EXPECT_EQ(outside.find("verification failed"), std::string::npos) << outside;
  EXPECT_NE(outside.find("read 65536/65536"), std::string::npos) << outside;
}

}  // namespace
}  // namespace volcrypt
