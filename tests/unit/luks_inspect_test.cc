#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "lib/util/fd_io.h"
#include "tests/support/test_support.h"
#include "volcrypt/errors.h"
#include "volcrypt/luks.h"
#include "volcrypt/size_rule.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::MakeSparseFile;
using ::volcrypt::testing::RandomKey;
using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::StatusIsWith;
using ::volcrypt::testing::TempDir;

TEST(LuksInspectTest, PlainFileIsNotLuks) {
  TempDir dir;
  const std::string path = dir.File("plain");
  MakeSparseFile(path, 8 << 20);
  EXPECT_THAT(luks::Inspect(path),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "not a valid LUKS"));
  EXPECT_THAT(luks::VerifyPassphrase(path, HexPassphrase(RandomKey())),
              StatusIs(absl::StatusCode::kInvalidArgument));
  absl::StatusOr<luks::ContentProbe> probe = luks::ProbeContent(path);
  ASSERT_TRUE(probe.ok());
  EXPECT_EQ(probe->kind, luks::ContentKind::kNoSignature);
}

TEST(LuksInspectTest, MissingPathIsNotFound) {
  EXPECT_THAT(luks::Inspect("/nonexistent/vol"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(luks::ProbeContent("/nonexistent/vol"),
              StatusIs(absl::StatusCode::kNotFound));
}

class TruncatedHeaderTest : public ::testing::TestWithParam<LuksFormat> {};

TEST_P(TruncatedHeaderTest, TruncatedHeaderFailsToUnlockCleanly) {
  TempDir dir;
  const std::string path = dir.File("vol");
  MakeSparseFile(path, 32 << 20);
  EncryptionSpec spec;
  spec.format = GetParam();
  SecretBytes pass = HexPassphrase(RandomKey());
  ASSERT_TRUE(luks::FormatPath(path, spec, pass, {}).ok());
  // Keep the header proper, lose the keyslot area.
  ASSERT_EQ(truncate(path.c_str(), 8192), 0);
  absl::StatusOr<int> slot = luks::VerifyPassphrase(path, pass);
  EXPECT_FALSE(slot.ok());
  EXPECT_NE(slot.status().code(), absl::StatusCode::kPermissionDenied)
      << "a truncated volume must not look like a wrong passphrase: " << slot.status();
}

TEST_P(TruncatedHeaderTest, CopyHeaderRegionReadsExactlyTheRegion) {
  TempDir dir;
  const std::string path = dir.File("vol");
  MakeSparseFile(path, 32 << 20);
  EncryptionSpec spec;
  spec.format = GetParam();
  SecretBytes pass = HexPassphrase(RandomKey());
  ASSERT_TRUE(luks::FormatPath(path, spec, pass, {}).ok());
  absl::StatusOr<ScopedFd> fd = OpenFile(path, O_RDONLY);
  ASSERT_TRUE(fd.ok());
  const int raw = fd->get();
  absl::StatusOr<luks::LuksHeaderImage> image = luks::CopyHeaderRegion(
      [raw](uint64_t off, void* buf, size_t len) {
        return ReadFully(raw, off, buf, len, "vol");
      },
      32 << 20);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->size(), PayloadOffsetBytes(spec));
  EXPECT_EQ(*luks::VerifyPassphrase(image->path(), pass), 0);
}

INSTANTIATE_TEST_SUITE_P(BothFormats, TruncatedHeaderTest,
                         ::testing::Values(LuksFormat::kLuks1, LuksFormat::kLuks2),
                         ::volcrypt::testing::LuksFormatParamName);

TEST(LuksInspectTest, HeaderRegionRejectsNonLuks) {
  absl::StatusOr<luks::LuksHeaderImage> image = luks::LuksHeaderImage::Create(8192);
  ASSERT_TRUE(image.ok());
  EXPECT_THAT(luks::HeaderRegionBytes(*image),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace volcrypt
