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
#include "tests/support/online_conversion_fixture.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::LibvirtTestbed;
using ::volcrypt::testing::StatusIs;

::testing::Environment* const kTestbed = ::testing::AddGlobalTestEnvironment(new LibvirtTestbed);

class OnlineConversionTest : public ::volcrypt::testing::OnlineConversionFixture {};

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
  KillAtEveryStep([this](const std::string& id) { return AttachedVolume(id); });
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
  // An engine libvirt 9.0 cannot open live.
  r = Request("h1");
  r.encryption.engine = EncryptionEngine::kLibrbd;
  r.encryption.format = LuksFormat::kLuks2;
  EXPECT_THAT(service_->ConvertVolume(r), StatusIs(absl::StatusCode::kUnimplemented));
  // A plain "encrypt" of an encrypted volume.
  r = Request("h1");
  r.kind = ConversionKind::kEncrypt;
  EXPECT_FALSE(service_->ConvertVolume(r).ok());
  EXPECT_FALSE(ExpectOneWholeVolume(before));
  EXPECT_EQ(store_->GetVolume("h1")->encryption_key_id, before.encryption_key_id);
}

}  // namespace
}  // namespace volcrypt
