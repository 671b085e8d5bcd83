// Independent verification with the real cryptsetup: what we write, it opens;
// what it writes, we open. Passphrases reach cryptsetup through a pipe (fd 3).
#include <gtest/gtest.h>

#include "tests/support/test_support.h"
#include "volcrypt/luks.h"
#include "volcrypt/mapped_backend.h"
#include "volcrypt/size_rule.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::HaveTool;
using ::volcrypt::testing::MakeSparseFile;
using ::volcrypt::testing::RandomKey;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::TempDir;

class CryptsetupInteropTest : public ::testing::TestWithParam<LuksFormat> {
 protected:
  void SetUp() override {
    if (!HaveTool("cryptsetup")) GTEST_SKIP() << "cryptsetup is not installed";
    path_ = dir_.File("vol");
    MakeSparseFile(path_, 64 << 20);
  }
  std::string TypeFlag() const {
    return GetParam() == LuksFormat::kLuks1 ? "luks1" : "luks2";
  }
  TempDir dir_;
  std::string path_;
};

TEST_P(CryptsetupInteropTest, OurVolumeOpensInCryptsetup) {
  EncryptionSpec spec;
  spec.format = GetParam();
  SecretBytes pass = HexPassphrase(RandomKey());
  ASSERT_TRUE(luks::FormatPath(path_, spec, pass, {}).ok());

  auto ok = RunCommand({"cryptsetup", "open", "--test-passphrase",
                        "--key-file", "/dev/fd/3", path_}, &pass);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  SecretBytes wrong = HexPassphrase(RandomKey());
  auto bad = RunCommand({"cryptsetup", "open", "--test-passphrase",
                         "--key-file", "/dev/fd/3", path_}, &wrong);
  EXPECT_EQ(bad.exit_code, 2) << "cryptsetup's exit code for a wrong passphrase";

  auto dump = RunCommand({"cryptsetup", "luksDump", path_});
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_NE(dump.out.find("aes"), std::string::npos);
  EXPECT_NE(dump.out.find("xts-plain64"), std::string::npos);
  EXPECT_NE(dump.out.find(GetParam() == LuksFormat::kLuks1 ? "MK bits:       \t512"
                                                           : "512 bits"),
            std::string::npos)
      << dump.out;
}

// The header bounds (lib/luks/header_bounds.h) must let through what
// cryptsetup's defaults write: benchmarked PBKDF2 (LUKS1) and Argon2id
// (LUKS2), read through a backend as `volume verify` does.
TEST_P(CryptsetupInteropTest, CryptsetupDefaultHeaderPassesTheHeaderBounds) {
  SecretBytes pass = HexPassphrase(RandomKey());
  auto fmt = RunCommand({"cryptsetup", "luksFormat", "--batch-mode", "--type",
                         TypeFlag(), "--key-file", "/dev/fd/3", path_}, &pass);
  ASSERT_EQ(fmt.exit_code, 0) << fmt.err;
  absl::StatusOr<luks::LuksHeaderImage> image =
      NewMappedBackend()->ReadLuksHeader(VolumeLocation::Path(path_));
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_TRUE(luks::VerifyPassphrase(image->path(), pass).ok());
}

TEST_P(CryptsetupInteropTest, CryptsetupVolumeOpensInOurs) {
  SecretBytes pass = HexPassphrase(RandomKey());
  auto fmt = RunCommand({"cryptsetup", "luksFormat", "--batch-mode",
                         "--type", TypeFlag(), "--pbkdf", "pbkdf2",
                         "--pbkdf-force-iterations", "1000",
                         "--key-file", "/dev/fd/3", path_}, &pass);
  ASSERT_EQ(fmt.exit_code, 0) << fmt.err;

  absl::StatusOr<int> slot = luks::VerifyPassphrase(path_, pass);
  ASSERT_TRUE(slot.ok()) << slot.status();
  EXPECT_EQ(*slot, 0);
  EXPECT_THAT(luks::VerifyPassphrase(path_, HexPassphrase(RandomKey())),
              StatusIs(absl::StatusCode::kPermissionDenied));

  absl::StatusOr<luks::LuksInfo> info = luks::Inspect(path_);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->format, GetParam());
  EXPECT_EQ(info->cipher, "aes-xts-plain64");
  // cryptsetup's default --key-size for XTS is 512 bits: AES-256-XTS.
  EXPECT_EQ(info->volume_key_bits, 512u);
  EXPECT_EQ(info->key_bits, 256);
  EXPECT_EQ(info->payload_bytes, info->device_bytes - info->payload_offset_bytes);
}

TEST_P(CryptsetupInteropTest, KeyslotChangesAreSeenByTheOtherSide) {
  EncryptionSpec spec;
  spec.format = GetParam();
  SecretBytes pass = HexPassphrase(RandomKey());
  ASSERT_TRUE(luks::FormatPath(path_, spec, pass, {}).ok());
  SecretBytes next = HexPassphrase(RandomKey());
  ASSERT_TRUE(luks::ChangePassphrase(path_, pass, next, KdfPolicy::kMachineKey).ok());
  EXPECT_EQ(RunCommand({"cryptsetup", "open", "--test-passphrase", "--key-file",
                        "/dev/fd/3", path_}, &next).exit_code, 0);
  EXPECT_EQ(RunCommand({"cryptsetup", "open", "--test-passphrase", "--key-file",
                        "/dev/fd/3", path_}, &pass).exit_code, 2);
}

INSTANTIATE_TEST_SUITE_P(BothFormats, CryptsetupInteropTest,
                         ::testing::Values(LuksFormat::kLuks1, LuksFormat::kLuks2),
                         ::volcrypt::testing::LuksFormatParamName);

TEST(CryptsetupDefaultsInteropTest, DefaultLuks1HeaderOpensInOurs) {
  if (!HaveTool("cryptsetup")) GTEST_SKIP() << "cryptsetup is not installed";
  TempDir dir;
  const std::string path = dir.File("vol");
  MakeSparseFile(path, 16 << 20);
  SecretBytes pass = HexPassphrase(RandomKey());
  // Defaults (PBKDF2 benchmarked to 2 s): what os-brick produces today.
  auto fmt = RunCommand({"cryptsetup", "luksFormat", "--batch-mode", "--type",
                         "luks1", "--key-file", "/dev/fd/3", path}, &pass);
  ASSERT_EQ(fmt.exit_code, 0) << fmt.err;
  EXPECT_TRUE(luks::VerifyPassphrase(path, pass).ok());
}

}  // namespace
}  // namespace volcrypt
