#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"
#include "volcrypt/errors.h"
#include "volcrypt/luks.h"
#include "volcrypt/size_rule.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::MakeSparseFile;
using ::volcrypt::testing::RandomKey;
using ::volcrypt::testing::ReadFileOrDie;
using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::StatusIsWith;
using ::volcrypt::testing::TempDir;

constexpr uint64_t kMiB = 1 << 20;

class LuksFormatTest : public ::testing::TestWithParam<LuksFormat> {
 protected:
  EncryptionSpec Spec() const {
    EncryptionSpec spec;
    spec.format = GetParam();
    return spec;
  }
  TempDir dir_;
};

TEST_P(LuksFormatTest, FormatThenVerifyAndInspect) {
  const std::string path = dir_.File("vol");
  MakeSparseFile(path, 32 * kMiB);
  SecretBytes pass = HexPassphrase(RandomKey());
  VOLCRYPT_ASSERT_OK(luks::FormatPath(path, Spec(), pass, {}));

  absl::StatusOr<int> slot = luks::VerifyPassphrase(path, pass);
  ASSERT_TRUE(slot.ok()) << slot.status();
  EXPECT_EQ(*slot, 0);

  absl::StatusOr<luks::LuksInfo> info = luks::Inspect(path);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->format, GetParam());
  EXPECT_EQ(info->cipher, "aes-xts-plain64");
  EXPECT_EQ(info->volume_key_bits, 512u);
  EXPECT_EQ(info->key_bits, 256);
  EXPECT_EQ(info->payload_offset_bytes, PayloadOffsetBytes(Spec()));
  EXPECT_EQ(info->payload_bytes, 32 * kMiB - PayloadOffsetBytes(Spec()));
  ASSERT_EQ(info->keyslots.size(), 1u);
  EXPECT_EQ(info->keyslots[0].pbkdf, "pbkdf2");
  EXPECT_EQ(info->keyslots[0].iterations, 1000u);
  EXPECT_EQ(info->uuid.size(), 36u);
}

TEST_P(LuksFormatTest, WrongPassphraseIsPermissionDeniedWithEperm) {
  const std::string path = dir_.File("vol");
  MakeSparseFile(path, 32 * kMiB);
  VOLCRYPT_ASSERT_OK(luks::FormatPath(path, Spec(), HexPassphrase(RandomKey()), {}));
  absl::StatusOr<int> slot = luks::VerifyPassphrase(path, HexPassphrase(RandomKey()));
  EXPECT_THAT(slot, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(ErrnoOf(slot.status()), EPERM);
}

TEST_P(LuksFormatTest, RefusesToFormatOverLuksUnlessForced) {
  const std::string path = dir_.File("vol");
  MakeSparseFile(path, 32 * kMiB);
  SecretBytes first = HexPassphrase(RandomKey());
  VOLCRYPT_ASSERT_OK(luks::FormatPath(path, Spec(), first, {}));
  const std::string before = ReadFileOrDie(path);

  absl::Status again = luks::FormatPath(path, Spec(), HexPassphrase(RandomKey()), {});
  EXPECT_THAT(again, StatusIsWith(absl::StatusCode::kFailedPrecondition,
                                  "crypto_LUKS"));
  EXPECT_EQ(ErrnoOf(again), EEXIST);
  EXPECT_EQ(ReadFileOrDie(path), before) << "a refused format modified the file";

  SecretBytes second = HexPassphrase(RandomKey());
  luks::FormatOptions force;
  force.force = true;
  VOLCRYPT_ASSERT_OK(luks::FormatPath(path, Spec(), second, force));
  EXPECT_TRUE(luks::VerifyPassphrase(path, second).ok());
  EXPECT_FALSE(luks::VerifyPassphrase(path, first).ok());
}

TEST_P(LuksFormatTest, TooSmallDeviceIsOutOfRangeAndUntouched) {
  const std::string path = dir_.File("small");
  MakeSparseFile(path, PayloadOffsetBytes(Spec()));  // no room for data
  absl::Status s = luks::FormatPath(path, Spec(), HexPassphrase(RandomKey()), {});
  EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kOutOfRange, "cannot hold"));
  EXPECT_EQ(ReadFileOrDie(path), std::string(PayloadOffsetBytes(Spec()), '\0'));
}

TEST_P(LuksFormatTest, HeaderImageHasPayloadOffsetSize) {
  absl::StatusOr<luks::LuksHeaderImage> image =
      luks::BuildHeaderImage(Spec(), HexPassphrase(RandomKey()));
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->size(), PayloadOffsetBytes(Spec()));
  EXPECT_EQ(*luks::HeaderRegionBytes(*image), PayloadOffsetBytes(Spec()));
}

TEST_P(LuksFormatTest, WrittenImageKeepsFileSparse) {
  const std::string path = dir_.File("vol");
  MakeSparseFile(path, 256 * kMiB);
  VOLCRYPT_ASSERT_OK(luks::FormatPath(path, Spec(), HexPassphrase(RandomKey()), {}));
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_LE(static_cast<uint64_t>(st.st_blocks) * 512, PayloadOffsetBytes(Spec()));
}

// The header path reads nothing back from a target whose header region is
// a hole (a file just made) and writes only the image's non-zero chunks; on
// any other target it compares and writes every chunk that differs. Either
// way the target ends up holding exactly the image: a blank target's zero
// chunks read as zeros, and a target full of 0xAA gets those chunks zeroed.
TEST_P(LuksFormatTest, WrittenRegionEqualsTheImageOnBlankAndOnDirtyTargets) {
  absl::StatusOr<luks::LuksHeaderImage> image =
      luks::BuildHeaderImage(Spec(), HexPassphrase(RandomKey()));
  ASSERT_TRUE(image.ok()) << image.status();
  const size_t size = static_cast<size_t>(image->size());
  std::string want(size, '\0');
  VOLCRYPT_ASSERT_OK(image->Read(0, want.data(), size));
  for (const bool dirty : {false, true}) {
    SCOPED_TRACE(dirty ? "dirty target" : "blank target");
    const std::string path = dir_.File(dirty ? "dirty" : "blank");
    MakeSparseFile(path, 64 * kMiB);
    const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    if (dirty) {
      const std::string junk(size, '\xaa');
      ASSERT_EQ(pwrite(fd, junk.data(), size, 0), static_cast<ssize_t>(size));
    }
    VOLCRYPT_EXPECT_OK(luks::WriteHeaderImage(fd, 64 * kMiB, *image, 512, path));
    close(fd);
    EXPECT_TRUE(ReadFileOrDie(path).compare(0, size, want) == 0)
        << "the target does not hold the image";
  }
}

INSTANTIATE_TEST_SUITE_P(BothFormats, LuksFormatTest,
                         ::testing::Values(LuksFormat::kLuks1, LuksFormat::kLuks2),
                         ::volcrypt::testing::LuksFormatParamName);

TEST(LuksFormatErrorsTest, RefusesOtherSignatures) {
  TempDir dir;
  const std::string path = dir.File("ext4");
  MakeSparseFile(path, 32 * kMiB);
  ASSERT_EQ(::volcrypt::testing::RunCommand({"mkfs.ext4", "-q", "-F", path}).exit_code, 0);
  const std::string before = ReadFileOrDie(path);
  absl::Status s = luks::FormatPath(path, EncryptionSpec(), HexPassphrase(RandomKey()), {});
  EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kFailedPrecondition, "ext4"));
  EXPECT_EQ(ReadFileOrDie(path), before);
  absl::StatusOr<luks::ContentProbe> probe = luks::ProbeContent(path);
  ASSERT_TRUE(probe.ok());
  EXPECT_EQ(probe->kind, luks::ContentKind::kOtherSignature);
  EXPECT_EQ(probe->type, "ext4");
}

TEST(LuksFormatErrorsTest, NonexistentPathIsNotFound) {
  absl::Status s = luks::FormatPath("/nonexistent/volcrypt/vol", EncryptionSpec(),
                                    HexPassphrase(RandomKey()), {});
  EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kNotFound, "/nonexistent/volcrypt/vol"));
  EXPECT_EQ(ErrnoOf(s), ENOENT);
}

// EISDIR maps as absl::ErrnoToStatusCode maps it (errors.h).
TEST(LuksFormatErrorsTest, DirectoryIsFailedPreconditionWithEisdir) {
  TempDir dir;
  absl::Status format = luks::FormatPath(dir.path(), EncryptionSpec(),
                                         HexPassphrase(RandomKey()), {});
  EXPECT_THAT(format, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(ErrnoOf(format), EISDIR);
  EXPECT_THAT(luks::Inspect(dir.path()), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(LuksFormatErrorsTest, UnsupportedSpecTouchesNothing) {
  TempDir dir;
  const std::string path = dir.File("vol");
  MakeSparseFile(path, 32 * kMiB);
  EncryptionSpec spec;
  spec.key_bits = 384;
  EXPECT_THAT(luks::FormatPath(path, spec, HexPassphrase(RandomKey()), {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  spec = EncryptionSpec();
  spec.cipher = "twofish-xts-plain64";
  EXPECT_THAT(luks::FormatPath(path, spec, HexPassphrase(RandomKey()), {}),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "twofish"));
  EXPECT_EQ(ReadFileOrDie(path), std::string(32 * kMiB, '\0'));
}

TEST(LuksFormatErrorsTest, EmptyPassphraseIsRejected) {
  EXPECT_THAT(luks::BuildHeaderImage(EncryptionSpec(), SecretBytes()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(LuksFormatErrorsTest, PassphrasePolicyUsesStrongDefaults) {
  // One LUKS1 format with the benchmarked PBKDF2: proves the policy switch,
  // costs ~2 s, so only once.
  TempDir dir;
  const std::string path = dir.File("vol");
  MakeSparseFile(path, 8 * kMiB);
  EncryptionSpec spec;
  spec.kdf = KdfPolicy::kPassphrase;
  SecretBytes pass = SecretBytes::CopyOf("correct horse battery", 21);
  VOLCRYPT_ASSERT_OK(luks::FormatPath(path, spec, pass, {}));
  absl::StatusOr<luks::LuksInfo> info = luks::Inspect(path);
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->keyslots.size(), 1u);
  EXPECT_GT(info->keyslots[0].iterations, 10000u);
}

}  // namespace
}  // namespace volcrypt
