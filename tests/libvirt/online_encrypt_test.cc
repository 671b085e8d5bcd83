// Online encryption of a plain volume (lib/volumes/online_plain.h) against a
// private libvirtd and real QEMU: a managed plain file that a running domain
// holds (attached behind volcrypt's back, as nova attaches it) becomes a
// LUKS1 volume while QEMU writes, through ConvertVolume's blockcopy flow;
// a kill at every step, then Reconcile, leaves the plain volume as it was
// (the domain on it, nothing recorded) or the encrypted one attached through
// volcrypt, never neither, and no orphaned key, file or secret.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "absl/strings/str_format.h"
#include "tests/support/online_conversion_fixture.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::LibvirtTestbed;
using ::volcrypt::testing::StatusIs;

::testing::Environment* const kTestbed = ::testing::AddGlobalTestEnvironment(new LibvirtTestbed);

class OnlineEncryptTest : public ::volcrypt::testing::OnlineConversionFixture {};

TEST_F(OnlineEncryptTest, APlainAttachedVolumeIsEncryptedWhileQemuWritesAndThePlainFileGoes) {
  const VolumeRecord before = AttachedPlainVolume("p1");
  ConvertVolumeRequest r = Request("p1");
  ASSERT_EQ(r.kind, ConversionKind::kEncrypt);
  int writes = 0;
  r.progress = [&](uint64_t, uint64_t) {
    if (writes < 4) Write(0xe0 + writes, (2 + 3 * writes) << 20, 64 << 10), ++writes;
  };
  absl::StatusOr<VolumeRecord> v = service_->ConvertVolume(r);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_GT(writes, 0);
  EXPECT_TRUE(v->encrypted);
  EXPECT_TRUE(ExpectOneWholeVolume(before));
  // volcrypt now owns the attachment, through the new secret.
  const AttachmentRecord a = store_->GetAttachment("p1").value();
  EXPECT_EQ(a.domain, kDomain);
  EXPECT_EQ(a.target_dev, "sdb");
  EXPECT_EQ(a.secret_uuid, ConversionSecretUuid("p1", v->encryption_key_id));
  const std::string block = probe_.Hmp(kDomain, "info block");
  EXPECT_NE(block.find("\"driver\": \"luks\""), std::string::npos) << block;
  EXPECT_NE(block.find(v->location.path), std::string::npos) << block;
  std::vector<std::string> reads;
  for (int i = 0; i < writes; ++i) {
    reads.push_back(absl::StrFormat("read -P 0x%02x %d 64k", 0xe0 + i, (2 + 3 * i) << 20));
  }
  const std::string out = Read(v->location.path, v->encryption_key_id, reads);
  EXPECT_EQ(out.find("verification failed"), std::string::npos) << out;
  EXPECT_EQ(out.find("rror"), std::string::npos) << out;
  // The domain restarts on the encrypted disk; it detaches as any other.
  EXPECT_EQ(probe_.Restart(kDomain), "");
  ASSERT_TRUE(service_->DetachVolume("p1").ok());
  EXPECT_EQ(probe_.SecretWithUsage(ConversionSecretUsageId("p1", a.secret_uuid)), "");
  EXPECT_EQ(probe_.DomainXml(kDomain, true).find(v->location.path), std::string::npos);
}

TEST_F(OnlineEncryptTest, KeepSourceKeepsThePlainFileWithEveryWriteBeforeThePivot) {
  const VolumeRecord before = AttachedPlainVolume("p2");
  ConvertVolumeRequest r = Request("p2");
  r.keep_source = true;
  ASSERT_TRUE(service_->ConvertVolume(r).ok());
  EXPECT_TRUE(ExpectOneWholeVolume(before, /*kept=*/true));
  const std::string out = Read(before.location.path, "", {"read -P 0xd4 0 1M"});
  EXPECT_NE(out.find("read 1048576/1048576"), std::string::npos) << out;
}

// ConvertVolumeRequest::bandwidth reaches libvirt's job as its cap.
TEST_F(OnlineEncryptTest, TheBandwidthCapIsTheBlockCopyJobsBandwidth) {
  const VolumeRecord before = AttachedPlainVolume("b1");
  ConvertVolumeRequest r = Request("b1");
  r.bandwidth = 32 << 20;
  unsigned long long seen = 0;
  r.progress = [&](uint64_t, uint64_t) {
    virDomainPtr d = virDomainLookupByName(probe_.conn(), kDomain);
    ASSERT_NE(d, nullptr);
    virDomainBlockJobInfo info{};
    if (virDomainGetBlockJobInfo(d, "sdb", &info, VIR_DOMAIN_BLOCK_JOB_INFO_BANDWIDTH_BYTES) == 1) {
      seen = info.bandwidth;
    }
    virDomainFree(d);
  };
  ASSERT_TRUE(service_->ConvertVolume(r).ok());
  EXPECT_EQ(seen, 32ull << 20);
  EXPECT_TRUE(ExpectOneWholeVolume(before));
}

TEST_F(OnlineEncryptTest, AKillAtEveryStepThenReconcileLeavesOneWholeVolume) {
  KillAtEveryStep([this](const std::string& id) { return AttachedPlainVolume(id); });
}

TEST_F(OnlineEncryptTest, RequestsItCannotKeepChangeNothing) {
  const VolumeRecord before = AttachedPlainVolume("h1");
  // A plain volume has no key to renew.
  ConvertVolumeRequest r = Request("h1");
  r.kind = ConversionKind::kReencrypt;
  EXPECT_THAT(service_->ConvertVolume(r), StatusIs(absl::StatusCode::kInvalidArgument));
  // An engine libvirt 9.0 cannot open live.
  r = Request("h1");
  r.encryption.engine = EncryptionEngine::kLibrbd;
  r.encryption.format = LuksFormat::kLuks2;
  EXPECT_THAT(service_->ConvertVolume(r), StatusIs(absl::StatusCode::kUnimplemented));
  // A destination that exists.
  r = Request("h1");
  ::volcrypt::testing::MakeSparseFile(r.target.path, kSize);
  EXPECT_THAT(service_->ConvertVolume(r), StatusIs(absl::StatusCode::kAlreadyExists));
  unlink(r.target.path.c_str());
  EXPECT_FALSE(ExpectOneWholeVolume(before));
  Unplug("h1");
  // Held by a domain without our serial (by path only): nothing tells
  // which disk is the volume's, so it stays refused as before (EBUSY).
  probe_.AttachDevice(kDomain,
                      "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
                      "<source file='" + before.location.path + "'/><target dev='sdb' "
                      "bus='scsi'/></disk>",
                      VIR_DOMAIN_AFFECT_LIVE);
  EXPECT_THAT(service_->ConvertVolume(Request("h1")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(store_->GetVolume("h1")->status, VolumeStatus::kAvailable);
  EXPECT_TRUE(absl::IsNotFound(store_->GetAttachment("h1").status()));
  EXPECT_EQ(access(r.target.path.c_str(), F_OK), -1);
}

}  // namespace
}  // namespace volcrypt
