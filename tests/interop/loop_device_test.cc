// Block devices for real: MappedBackend and the LUKS core on loop devices
// (as root), including a read-only device and an immutable file.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "tests/support/embedded_stack.h"
#include "tests/support/test_support.h"
#include "volcrypt/errors.h"
#include "volcrypt/luks.h"
#include "volcrypt/mapped_backend.h"
#include "volcrypt/size_rule.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::EmbeddedStack;
using ::volcrypt::testing::EmbeddedStackOptions;
using ::volcrypt::testing::HaveTool;
using ::volcrypt::testing::IsRoot;
using ::volcrypt::testing::MakeSparseFile;
using ::volcrypt::testing::RandomKey;
using ::volcrypt::testing::ReadFileOrDie;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::TempDir;

class LoopDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!IsRoot() || !HaveTool("losetup")) GTEST_SKIP() << "needs root and losetup";
    backing_ = dir_.File("backing");
    MakeSparseFile(backing_, 32 << 20);
  }
  void TearDown() override {
    for (const std::string& dev : devices_) RunCommand({"losetup", "-d", dev});
  }
  // Attaches the backing file; empty string (and a skip) if no loop device.
  std::string Attach(bool read_only) {
    std::vector<std::string> argv = {"losetup", "-f", "--show"};
    if (read_only) argv.push_back("-r");
    argv.push_back(backing_);
    auto r = RunCommand(argv);
    if (r.exit_code != 0) return "";
    std::string dev(absl::StripAsciiWhitespace(r.out));
    devices_.push_back(dev);
    return dev;
  }
  TempDir dir_;
  std::string backing_;
  std::vector<std::string> devices_;
};

TEST_F(LoopDeviceTest, FormatVerifyAndCryptoEraseOnABlockDevice) {
  const std::string dev = Attach(false);
  if (dev.empty()) GTEST_SKIP() << "no free loop device";
  std::unique_ptr<BlockBackend> backend = NewMappedBackend();
  const VolumeLocation where = VolumeLocation::Path(dev);

  // An existing device is the volume: Create checks size only.
  VOLCRYPT_ASSERT_OK(backend->Create(where, 16 << 20));
  EXPECT_THAT(backend->Create(where, 64 << 20), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_TRUE(backend->Stat(where)->block_device);
  EXPECT_EQ(backend->DescribeDisk(where)->type, DiskSource::Type::kBlock);

  SecretBytes pass = HexPassphrase(RandomKey());
  absl::StatusOr<FirstUseResult> first =
      FormatOnFirstUse(*backend, where, EncryptionSpec(), pass);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(luks::VerifyPassphrase(dev, pass).ok());
  if (HaveTool("cryptsetup")) {
    EXPECT_EQ(RunCommand({"cryptsetup", "open", "--test-passphrase",
                          "--key-file", "/dev/fd/3", dev}, &pass).exit_code, 0);
  }

  // A device cannot grow by itself: Resize says so.
  EXPECT_THAT(backend->Resize(where, 64 << 20), StatusIs(absl::StatusCode::kOutOfRange));

  // Delete destroys the header region; the device stays.
  VOLCRYPT_ASSERT_OK(backend->Delete(where));
  EXPECT_THAT(luks::Inspect(dev), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ReadFileOrDie(backing_).substr(0, kLuks1PayloadOffsetBytes),
            std::string(kLuks1PayloadOffsetBytes, '\0'));
}

TEST_F(LoopDeviceTest, ReadOnlyDeviceIsPermissionDeniedAndUntouched) {
  const std::string dev = Attach(true);
  if (dev.empty()) GTEST_SKIP() << "no free loop device";
  absl::Status s = luks::FormatPath(dev, EncryptionSpec(), HexPassphrase(RandomKey()), {});
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_TRUE(ErrnoOf(s) == EROFS || ErrnoOf(s) == EACCES) << s;
  EXPECT_EQ(ReadFileOrDie(backing_), std::string(32 << 20, '\0'));
}

TEST_F(LoopDeviceTest, ImmutableFileIsPermissionDeniedAndUntouched) {
  const std::string path = dir_.File("immutable");
  MakeSparseFile(path, 16 << 20);
  if (RunCommand({"chattr", "+i", path}).exit_code != 0) {
    GTEST_SKIP() << "the file system does not support chattr +i";
  }
  absl::Status s = luks::FormatPath(path, EncryptionSpec(), HexPassphrase(RandomKey()), {});
  RunCommand({"chattr", "-i", path});
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(ReadFileOrDie(path), std::string(16 << 20, '\0'));
}

// Key rotation on a block device: QEMU and cryptsetup open it with the new
// passphrase only, and what the guest wrote is still there.
TEST_F(LoopDeviceTest, RekeyOfABlockDeviceVolumeOpensWithTheNewPassphraseOnly) {
  const std::string dev = Attach(false);
  if (dev.empty()) GTEST_SKIP() << "no free loop device";
  EmbeddedStackOptions so;
  so.dir = dir_.path();
  std::unique_ptr<EmbeddedStack> stack = std::move(EmbeddedStack::Open(std::move(so)).value());
  CreateVolumeRequest r;
  r.id = "d1";
  r.location = VolumeLocation::Path(dev);
  r.size_bytes = 16 << 20;
  absl::StatusOr<VolumeRecord> v = stack->service().CreateVolume(r);
  ASSERT_TRUE(v.ok()) << v.status();
  auto pass_of = [&](const std::string& key_id) {
    return HexPassphrase(stack->keys().GetKey(key_id).value());
  };
  auto qemu_io = [&](const SecretBytes& pass, const std::string& cmd) {
    return RunCommand({"qemu-io", "--object", "secret,id=s0,file=/dev/fd/3", "--image-opts",
                       "driver=luks,key-secret=s0,file.driver=host_device,file.filename=" + dev,
                       "-c", cmd}, &pass);
  };
  const SecretBytes old_pass = pass_of(v->encryption_key_id);
  auto w = qemu_io(old_pass, "write -P 0x6c 0 1M");
  ASSERT_EQ(w.exit_code, 0) << w.err;
  absl::StatusOr<VolumeRecord> after = stack->service().RotateKey("d1");
  ASSERT_TRUE(after.ok()) << after.status();
  const SecretBytes new_pass = pass_of(after->encryption_key_id);
  auto read = qemu_io(new_pass, "read -P 0x6c 0 1M");
  EXPECT_EQ(read.exit_code, 0) << read.err;
  EXPECT_EQ(read.out.find("Pattern verification failed"), std::string::npos) << read.out;
  EXPECT_NE(qemu_io(old_pass, "read 0 4k").exit_code, 0) << "QEMU still opens with the old key";
  EXPECT_EQ(RunCommand({"cryptsetup", "open", "--test-passphrase", "--key-file", "/dev/fd/3",
                        dev}, &new_pass).exit_code, 0);
  EXPECT_EQ(RunCommand({"cryptsetup", "open", "--test-passphrase", "--key-file", "/dev/fd/3",
                        dev}, &old_pass).exit_code, 2);
  EXPECT_THAT(stack->keys().GetKey(v->encryption_key_id), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace volcrypt
