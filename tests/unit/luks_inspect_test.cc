#include <fcntl.h>

#include <cstring>
#include <unistd.h>

#include <gtest/gtest.h>

#include "lib/luks/header_bounds.h"
#include "lib/util/fd_io.h"
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

// A real header of `format` on a 32 MiB file, for tests that patch it.
std::string FormattedFile(const TempDir& dir, LuksFormat format,
                          const SecretBytes& pass) {
  const std::string path = dir.File("vol");
  MakeSparseFile(path, 32 << 20);
  EncryptionSpec spec;
  spec.format = format;
  EXPECT_TRUE(luks::FormatPath(path, spec, pass, {}).ok());
  return path;
}

void PatchBigEndian32(const std::string& path, off_t offset, uint32_t value) {
  const uint8_t be[4] = {static_cast<uint8_t>(value >> 24), static_cast<uint8_t>(value >> 16),
                         static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value)};
  const int fd = open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, be, 4, offset), 4);
  close(fd);
}

absl::StatusOr<luks::LuksHeaderImage> CopyFrom(const std::string& path) {
  absl::StatusOr<ScopedFd> fd = OpenFile(path, O_RDONLY);
  if (!fd.ok()) return fd.status();
  absl::StatusOr<uint64_t> bytes = DeviceBytes(fd->get(), path);
  if (!bytes.ok()) return bytes.status();
  const int raw = fd->get();
  return luks::CopyHeaderRegion(
      [raw](uint64_t off, void* buf, size_t len) {
        return ReadFully(raw, off, buf, len, "vol");
      },
      *bytes);
}

// LUKS1 phdr offsets: payloadOffset 104, mkDigestIterations 164, keyslot 0's
// passwordIterations 212.
TEST(LuksHeaderBoundsTest, PayloadOffsetNearTheEndOfAHugeVolumeCopiesOnlyTheHeader) {
  TempDir dir;
  SecretBytes pass = HexPassphrase(RandomKey());
  const std::string path = FormattedFile(dir, LuksFormat::kLuks1, pass);
  constexpr uint64_t kHuge = uint64_t{1} << 40;  // a 1 TiB volume, read virtually
  PatchBigEndian32(path, 104, static_cast<uint32_t>(kHuge / 512 - 8));
  const std::string real = ReadFileOrDie(path);
  uint64_t bytes_read = 0;
  absl::StatusOr<luks::LuksHeaderImage> image = luks::CopyHeaderRegion(
      [&](uint64_t off, void* buf, size_t len) -> absl::Status {
        bytes_read += len;
        if (bytes_read > luks::kMaxHeaderBytes) {
          return absl::ResourceExhaustedError("read more than a header can be");
        }
        std::memset(buf, 0, len);
        if (off < real.size()) {
          std::memcpy(buf, real.data() + off, std::min<uint64_t>(len, real.size() - off));
        }
        return absl::OkStatus();
      },
      kHuge);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_LE(bytes_read, 4u << 20);
  EXPECT_EQ(*luks::VerifyPassphrase(image->path(), pass), 0);
}

TEST(LuksHeaderBoundsTest, HugeDigestIterationCountIsRefused) {
  TempDir dir;
  const std::string path = FormattedFile(dir, LuksFormat::kLuks1, HexPassphrase(RandomKey()));
  PatchBigEndian32(path, 164, 0xFFFFFFFF);
  EXPECT_THAT(CopyFrom(path),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "digest iteration count is 4294967295"));
}

TEST(LuksHeaderBoundsTest, HugeKeyslotIterationCountIsRefused) {
  TempDir dir;
  const std::string path = FormattedFile(dir, LuksFormat::kLuks1, HexPassphrase(RandomKey()));
  PatchBigEndian32(path, 212, 0xFFFFFFFF);
  EXPECT_THAT(CopyFrom(path),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "keyslot 0 iteration count is 4294967295"));
}

TEST(LuksHeaderBoundsTest, HugeLuks2HeaderSizeIsRefused) {
  TempDir dir;
  const std::string path = FormattedFile(dir, LuksFormat::kLuks2, HexPassphrase(RandomKey()));
  PatchBigEndian32(path, 8, 0x10);  // hdr_size (8 bytes at 8): 2^36 + 16 KiB
  EXPECT_THAT(CopyFrom(path),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "LUKS2 header size 68719493120"));
}

TEST_P(TruncatedHeaderTest, TruncatedHeaderIsInvalidArgumentSayingSo) {
  TempDir dir;
  const std::string path = FormattedFile(dir, GetParam(), HexPassphrase(RandomKey()));
  for (off_t size : {8192, 100}) {
    ASSERT_EQ(truncate(path.c_str(), size), 0);
    EXPECT_THAT(CopyFrom(path),
                StatusIsWith(absl::StatusCode::kInvalidArgument,
                             "truncated LUKS header (" + std::to_string(size) + " bytes, "));
  }
}

TEST(LuksInspectTest, HeaderRegionRejectsNonLuks) {
  absl::StatusOr<luks::LuksHeaderImage> image = luks::LuksHeaderImage::Create(8192);
  ASSERT_TRUE(image.ok());
  EXPECT_THAT(luks::HeaderRegionBytes(*image),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace volcrypt
