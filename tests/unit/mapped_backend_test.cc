#include "volcrypt/mapped_backend.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <gtest/gtest.h>

#include "tests/support/swap_on_open.h"
#include "tests/support/test_support.h"
#include "volcrypt/errors.h"
#include "volcrypt/size_rule.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::MakeSparseFile;
using ::volcrypt::testing::RandomKey;
using ::volcrypt::testing::ReadFileOrDie;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::StatusIsWith;
using ::volcrypt::testing::SwapOnNextOpen;
using ::volcrypt::testing::FiredSwaps;
using ::volcrypt::testing::TempDir;

constexpr uint64_t kRaw = 20 << 20;

class MappedBackendTest : public ::testing::Test {
 protected:
  std::unique_ptr<BlockBackend> backend_ = NewMappedBackend();
  TempDir dir_;
  VolumeLocation where_ = VolumeLocation::Path(dir_.File("vol"));
};

TEST_F(MappedBackendTest, CreateMakesPrivateSparseFileOfExactSize) {
  VOLCRYPT_ASSERT_OK(backend_->Create(where_, kRaw));
  struct stat st;
  ASSERT_EQ(stat(where_.path.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), kRaw);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_blocks, 0);
  absl::StatusOr<VolumeStat> stat = backend_->Stat(where_);
  ASSERT_TRUE(stat.ok());
  EXPECT_EQ(stat->raw_bytes, kRaw);
  EXPECT_FALSE(stat->block_device);
}

TEST_F(MappedBackendTest, CreateRefusesExistingFile) {
  MakeSparseFile(where_.path, 1 << 20);
  absl::Status s = backend_->Create(where_, kRaw);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(ErrnoOf(s), EEXIST);
  EXPECT_EQ(backend_->Stat(where_)->raw_bytes, 1u << 20);
}

TEST_F(MappedBackendTest, CreateRefusesSymlink) {
  ASSERT_EQ(symlink(dir_.File("target").c_str(), where_.path.c_str()), 0);
  EXPECT_THAT(backend_->Create(where_, kRaw),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_NE(access(dir_.File("target").c_str(), F_OK), 0);
}

TEST_F(MappedBackendTest, CreateInMissingDirectoryIsNotFound) {
  EXPECT_THAT(backend_->Create(VolumeLocation::Path(dir_.File("no/such/vol")), kRaw),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(MappedBackendTest, RelativePathIsInvalid) {
  EXPECT_THAT(backend_->Create(VolumeLocation::Path("vol"), kRaw),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "absolute"));
}

TEST_F(MappedBackendTest, RbdLocationIsInvalid) {
  EXPECT_THAT(backend_->Stat(VolumeLocation::Rbd("rbd", "v")),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(MappedBackendTest, DeleteRemovesAndSecondDeleteIsNotFound) {
  VOLCRYPT_ASSERT_OK(backend_->Create(where_, kRaw));
  VOLCRYPT_ASSERT_OK(backend_->Delete(where_));
  EXPECT_NE(access(where_.path.c_str(), F_OK), 0);
  EXPECT_THAT(backend_->Delete(where_), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(MappedBackendTest, ResizeGrowsAndRefusesShrink) {
  VOLCRYPT_ASSERT_OK(backend_->Create(where_, kRaw));
  VOLCRYPT_ASSERT_OK(backend_->Resize(where_, 2 * kRaw));
  EXPECT_EQ(backend_->Stat(where_)->raw_bytes, 2 * kRaw);
  EXPECT_THAT(backend_->Resize(where_, kRaw), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_EQ(backend_->Stat(where_)->raw_bytes, 2 * kRaw);
}

TEST_F(MappedBackendTest, FormatOnFirstUseFormatsOnceAndNeverAgain) {
  VOLCRYPT_ASSERT_OK(backend_->Create(where_, kRaw));
  EncryptionSpec spec;
  SecretBytes pass = HexPassphrase(RandomKey());
  absl::StatusOr<FirstUseResult> first =
      FormatOnFirstUse(*backend_, where_, spec, pass);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, FirstUseResult::kFormatted);
  const std::string header = ReadFileOrDie(where_.path);

  absl::StatusOr<FirstUseResult> second =
      FormatOnFirstUse(*backend_, where_, spec, HexPassphrase(RandomKey()));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, FirstUseResult::kAlreadyLuks);
  EXPECT_EQ(ReadFileOrDie(where_.path), header);
  EXPECT_TRUE(luks::VerifyPassphrase(where_.path, pass).ok());
}

TEST_F(MappedBackendTest, FormatOnFirstUseRefusesForeignData) {
  MakeSparseFile(where_.path, kRaw);
  ASSERT_EQ(RunCommand({"mkfs.ext4", "-q", "-F", where_.path}).exit_code, 0);
  const std::string before = ReadFileOrDie(where_.path);
  absl::StatusOr<FirstUseResult> r = FormatOnFirstUse(
      *backend_, where_, EncryptionSpec(), HexPassphrase(RandomKey()));
  EXPECT_THAT(r, StatusIsWith(absl::StatusCode::kFailedPrecondition, "ext4"));
  EXPECT_EQ(ReadFileOrDie(where_.path), before);
}

TEST_F(MappedBackendTest, HeaderRoundTripThroughBackend) {
  VOLCRYPT_ASSERT_OK(backend_->Create(where_, kRaw));
  SecretBytes pass = HexPassphrase(RandomKey());
  EncryptionSpec spec;
  absl::StatusOr<luks::LuksHeaderImage> image = luks::BuildHeaderImage(spec, pass);
  ASSERT_TRUE(image.ok());
  VOLCRYPT_ASSERT_OK(backend_->WriteLuksHeader(where_, *image, 512, false));
  EXPECT_THAT(backend_->WriteLuksHeader(where_, *image, 512, false),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  absl::StatusOr<luks::LuksHeaderImage> copy = backend_->ReadLuksHeader(where_);
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ(copy->size(), PayloadOffsetBytes(spec));
  EXPECT_EQ(*luks::VerifyPassphrase(copy->path(), pass), 0);
}

TEST_F(MappedBackendTest, ReadLuksHeaderOfPlainVolumeIsInvalidArgument) {
  VOLCRYPT_ASSERT_OK(backend_->Create(where_, kRaw));
  EXPECT_THAT(backend_->ReadLuksHeader(where_),
              StatusIsWith(absl::StatusCode::kInvalidArgument, where_.path));
}

TEST_F(MappedBackendTest, DescribeDiskOfFile) {
  VOLCRYPT_ASSERT_OK(backend_->Create(where_, kRaw));
  absl::StatusOr<DiskSource> disk = backend_->DescribeDisk(where_);
  ASSERT_TRUE(disk.ok());
  EXPECT_EQ(disk->type, DiskSource::Type::kFile);
  EXPECT_EQ(disk->path, where_.path);
}

// Another user who can write to the volume's directory replaces the volume
// file by a symlink to a file they cannot write (root's, here a zeroed file),
// at the worst moment: right when the backend opens the name.
class MappedBackendSymlinkSwapTest : public MappedBackendTest {
 protected:
  void SetUp() override {
    MakeSparseFile(target_, kRaw);
    ASSERT_EQ(chmod(target_.c_str(), 0600), 0);
    ASSERT_EQ(symlink(target_.c_str(), dir_.File("swap").c_str()), 0);
  }
  void SwapAtNextOpen() {
    const std::string from = dir_.File("swap"), to = where_.path;
    SwapOnNextOpen("vol", [from, to] {
      ASSERT_EQ(rename(from.c_str(), to.c_str()), 0);
    });
  }
  bool TargetUntouched() {
    return ReadFileOrDie(target_) == std::string(kRaw, '\0');
  }
  const std::string target_ = dir_.File("root-owned");
};

TEST_F(MappedBackendSymlinkSwapTest, HeaderWriteRefusesASymlinkSwappedInAtItsOpen) {
  VOLCRYPT_ASSERT_OK(backend_->Create(where_, kRaw));
  absl::StatusOr<luks::LuksHeaderImage> image =
      luks::BuildHeaderImage(EncryptionSpec(), HexPassphrase(RandomKey()));
  ASSERT_TRUE(image.ok());
  SwapAtNextOpen();
  absl::Status s = backend_->WriteLuksHeader(where_, *image, 512, false);
  ASSERT_EQ(FiredSwaps(), 1);
  EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kInvalidArgument, "symlink"));
  EXPECT_EQ(ErrnoOf(s), ELOOP);
  EXPECT_TRUE(TargetUntouched());
}

TEST_F(MappedBackendSymlinkSwapTest, CreateRefusesASymlinkSwappedInAfterStat) {
  EXPECT_THAT(backend_->Stat(where_), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_EQ(rename(dir_.File("swap").c_str(), where_.path.c_str()), 0);
  EXPECT_THAT(backend_->Create(where_, kRaw),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_TRUE(TargetUntouched());
}

TEST_F(MappedBackendSymlinkSwapTest, DeleteLeavesASymlinkSwappedInAtItsOpen) {
  VOLCRYPT_ASSERT_OK(backend_->Create(where_, kRaw));
  SwapAtNextOpen();
  absl::Status s = backend_->Delete(where_);
  ASSERT_GE(FiredSwaps(), 1);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
  struct stat st;
  ASSERT_EQ(lstat(where_.path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_TRUE(TargetUntouched());
}

}  // namespace
}  // namespace volcrypt
