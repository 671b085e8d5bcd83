// The block-copy primitive (lib/attach/block_copy.h) on RBD: a LUKS1 image
// (QEMU's engine) attached to a running domain moves onto a new LUKS1 image
// under a new key while QEMU keeps writing, and the librbd engine's LUKS2
// destination, which libvirt 9.0 cannot open live, is refused with
// libvirt's words and the guest left on its source.
#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/attach/block_copy.h"
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
using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::TempDir;

::testing::Environment* const kCeph = ::testing::AddGlobalTestEnvironment(new CephTestbed);
::testing::Environment* const kLibvirt =
    ::testing::AddGlobalTestEnvironment(new LibvirtTestbed);

constexpr uint64_t kSize = 32 << 20;
constexpr char kDomain[] = "volcrypt-rbd-copy";
constexpr char kCephSecret[] = "c3c3c3c3-0000-4000-8000-000000000002";

class RbdBlockCopyTest : public ::testing::Test {
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
    service_ = &stack_->service();
    probe_.DefineDomain(kDomain, /*start=*/true);
  }

  void TearDown() override {
    if (LibvirtTestbed::uri().empty() || CephTestbed::conf().empty()) return;
    probe_.DestroyAndUndefine(kDomain);
  }

  // The cephx key of client.admin in a libvirt secret of usage 'ceph'.
  void DefineCephSecret() {
    if (probe_.SecretExists(kCephSecret)) return;
    const std::string xml = std::string("<secret ephemeral='no' private='yes'><uuid>") +
                            kCephSecret + "</uuid><usage type='ceph'><name>client.admin "
                            "secret</name></usage></secret>";
    virSecretPtr s = virSecretDefineXML(probe_.conn(), xml.c_str(), 0);
    ASSERT_NE(s, nullptr);
    auto key = RunCommand({"ceph-authtool", "-p", "-n", "client.admin",
                           CephTestbed::dir() + "/keyring"});
    std::string raw;
    ASSERT_TRUE(absl::Base64Unescape(absl::StripAsciiWhitespace(key.out), &raw));
    EXPECT_EQ(virSecretSetValue(s, reinterpret_cast<const unsigned char*>(raw.data()),
                                raw.size(), 0), 0);
    virSecretFree(s);
  }

  void Create(const std::string& id, LuksFormat format, EncryptionEngine engine) {
    CreateVolumeRequest r;
    r.id = id;
    r.location = VolumeLocation::Rbd("rbd", "volume-" + id);
    r.size_bytes = kSize;
    r.encryption.format = format;
    r.encryption.engine = engine;
    absl::StatusOr<VolumeRecord> v = service_->CreateVolume(r);
    ASSERT_TRUE(v.ok()) << v.status();
  }

  // A destination volume and its secret; the request to copy `volume_id`'s
  // disk (sdb) onto it.
  BlockCopyRequest Request(const std::string& volume_id, const std::string& dst_id,
                           LuksFormat format, EncryptionEngine engine, AttachPlan* plan) {
    Create(dst_id, format, engine);
    absl::StatusOr<AttachPlan> p = service_->PlanAttach(dst_id, {});
    EXPECT_TRUE(p.ok()) << p.status();
    EXPECT_TRUE(attacher_->DefineSecret(*p).ok());
    BlockCopyRequest r;
    r.domain = kDomain;
    r.target_dev = "sdb";
    r.volume_id = volume_id;
    r.destination.source = rbd_->DescribeDisk(VolumeLocation::Rbd("rbd", "volume-" + dst_id))
                               .value();
    r.destination.format = format;
    r.destination.engine = engine;
    r.destination.secret_uuid = p->secret_uuid;
    r.destination_payload_bytes = kSize;
    *plan = std::move(*p);
    return r;
  }

  void Write(int pattern, uint64_t offset, uint64_t len) {
    const std::string out = probe_.Hmp(
        kDomain, absl::StrFormat("qemu-io -d scsi0-0-0-1 \"write -P 0x%02x %d %d\"", pattern,
                                 offset, len));
    EXPECT_EQ(out.find("rror"), std::string::npos) << out;
  }

  // qemu-io reads of image `image` through QEMU's LUKS driver over rbd.
  std::string ReadLuks(const std::string& image, const SecretBytes& pass,
                       const std::vector<std::string>& reads) {
    std::vector<std::string> argv = {
        "qemu-io", "-r", "--object", "secret,id=s0,file=/dev/fd/3", "--image-opts",
        "driver=luks,key-secret=s0,file.driver=rbd,file.pool=rbd,file.image=" + image +
            ",file.conf=" + CephTestbed::conf()};
    for (const std::string& c : reads) {
      argv.push_back("-c");
      argv.push_back(c);
    }
    auto r = RunCommand(argv, &pass);
    return r.out + r.err;
  }

  TempDir tmp_;
  LibvirtProbe probe_;
  std::unique_ptr<RbdBackend> rbd_;
  std::unique_ptr<Attacher> attacher_;
  std::unique_ptr<EmbeddedStack> stack_;
  VolumeService* service_ = nullptr;
};

TEST_F(RbdBlockCopyTest, Luks1ImageMovesOntoANewLuks1ImageWhileQemuKeepsWriting) {
  Create("src", LuksFormat::kLuks1, EncryptionEngine::kQemu);
  AttachTarget t;
  t.domain = kDomain;
  t.config = true;
  ASSERT_TRUE(service_->AttachVolume("src", t, {}).ok());
  Write(0x51, 0, 1 << 20);
  Write(0x52, kSize - (1 << 20), 1 << 20);
  SecretBytes old_pass = std::move(service_->PlanAttach("src", {}).value().passphrase);

  AttachPlan dst;
  BlockCopyRequest r = Request("src", "dst", LuksFormat::kLuks1, EncryptionEngine::kQemu, &dst);
  r.bandwidth = 16 << 20;
  int writes = 0;
  r.on_progress = [&](uint64_t, uint64_t) {
    if (writes < 6) {
      Write(0x60 + writes, (4 + 4 * writes) << 20, 64 << 10);
      ++writes;
    }
    return true;
  };
  ASSERT_TRUE(CopyAndPivot(*attacher_, r).ok());
  EXPECT_EQ(writes, 6);

  const std::string block = probe_.Hmp(kDomain, "info block");
  EXPECT_NE(block.find("\"driver\": \"luks\""), std::string::npos) << block;
  EXPECT_NE(block.find("volume-dst"), std::string::npos) << block;
  EXPECT_EQ(block.find("volume-src"), std::string::npos) << block;
  const std::string config = probe_.DomainXml(kDomain, /*inactive=*/true);
  EXPECT_NE(config.find("rbd/volume-dst"), std::string::npos) << config;
  EXPECT_NE(config.find(dst.secret_uuid), std::string::npos) << config;

  std::vector<std::string> reads = {"read -P 0x51 0 1M",
                                    absl::StrCat("read -P 0x52 ", kSize - (1 << 20), " 1M")};
  for (int i = 0; i < 6; ++i) {
    reads.push_back(absl::StrFormat("read -P 0x%02x %d 64k", 0x60 + i, (4 + 4 * i) << 20));
  }
  const std::string out = ReadLuks("volume-dst", dst.passphrase, reads);
  EXPECT_EQ(out.find("verification failed"), std::string::npos) << out;
  size_t done = 0;
  for (size_t at = out.find("bytes at offset"); at != std::string::npos;
       at = out.find("bytes at offset", at + 1)) {
    ++done;
  }
  EXPECT_EQ(done, reads.size()) << out;
  EXPECT_NE(ReadLuks("volume-dst", old_pass, {"read 0 4k"}).find("Invalid password"),
            std::string::npos);
}

TEST_F(RbdBlockCopyTest, LibrbdLuks2DestinationPivotsOnlyWhereLibvirtHandsQemuItsSecret) {
  Create("src2", LuksFormat::kLuks1, EncryptionEngine::kQemu);
  AttachTarget t;
  t.domain = kDomain;
  ASSERT_TRUE(service_->AttachVolume("src2", t, {}).ok());
  AttachPlan dst;
  BlockCopyRequest r =
      Request("src2", "dst2", LuksFormat::kLuks2, EncryptionEngine::kLibrbd, &dst);
  absl::Status s = CopyAndPivot(*attacher_, r);
  std::cout << "libvirt on a librbd LUKS2 destination: " << s << "\n";
  if (::volcrypt::testing::LibvirtTestbed::CurrentStack()) {
    // libvirt 11.x hands QEMU the destination's secret: the copy pivots.
    ASSERT_TRUE(s.ok()) << s;
    absl::optional<LiveDiskState> now = attacher_->InspectLiveDisk(kDomain, "sdb").value();
    EXPECT_FALSE(now->copying);
    EXPECT_EQ(now->source, "rbd/volume-dst2");
    return;
  }
  // What libvirt 9.0 says.
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnimplemented));
  EXPECT_NE(s.message().find("No secret with id"), std::string::npos) << s;
  absl::optional<LiveDiskState> now = attacher_->InspectLiveDisk(kDomain, "sdb").value();
  EXPECT_FALSE(now->copying);
  EXPECT_EQ(now->source, "rbd/volume-src2");
}

}  // namespace
}  // namespace volcrypt
