#include <cerrno>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"
#include "volcrypt/errors.h"
#include "volcrypt/luks.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::MakeSparseFile;
using ::volcrypt::testing::RandomKey;
using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::TempDir;

class LuksKeyslotsTest : public ::testing::TestWithParam<LuksFormat> {
 protected:
  void SetUp() override {
    path_ = dir_.File("vol");
    MakeSparseFile(path_, 32 << 20);
    EncryptionSpec spec;
    spec.format = GetParam();
    ASSERT_TRUE(luks::FormatPath(path_, spec, pass_, {}).ok());
  }
  TempDir dir_;
  std::string path_;
  SecretBytes pass_ = HexPassphrase(RandomKey());
};

TEST_P(LuksKeyslotsTest, AddedPassphraseUnlocksItsOwnSlot) {
  SecretBytes other = HexPassphrase(RandomKey());
  absl::StatusOr<int> slot =
      luks::AddPassphrase(path_, pass_, other, KdfPolicy::kMachineKey);
  ASSERT_TRUE(slot.ok()) << slot.status();
  EXPECT_NE(*slot, 0);
  EXPECT_EQ(*luks::VerifyPassphrase(path_, other), *slot);
  EXPECT_EQ(*luks::VerifyPassphrase(path_, pass_), 0);
}

TEST_P(LuksKeyslotsTest, AddNeedsAValidPassphrase) {
  absl::StatusOr<int> slot = luks::AddPassphrase(
      path_, HexPassphrase(RandomKey()), HexPassphrase(RandomKey()),
      KdfPolicy::kMachineKey);
  EXPECT_THAT(slot, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(luks::Inspect(path_)->keyslots.size(), 1u);
}

TEST_P(LuksKeyslotsTest, RemoveDestroysOnlyThatSlot) {
  SecretBytes other = HexPassphrase(RandomKey());
  ASSERT_TRUE(luks::AddPassphrase(path_, pass_, other, KdfPolicy::kMachineKey).ok());
  VOLCRYPT_ASSERT_OK(luks::RemovePassphrase(path_, pass_));
  EXPECT_THAT(luks::VerifyPassphrase(path_, pass_),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_TRUE(luks::VerifyPassphrase(path_, other).ok());
}

TEST_P(LuksKeyslotsTest, RefusesToRemoveTheLastKeyslot) {
  absl::Status s = luks::RemovePassphrase(path_, pass_);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(luks::VerifyPassphrase(path_, pass_).ok());
}

TEST_P(LuksKeyslotsTest, ChangeReplacesThePassphrase) {
  SecretBytes next = HexPassphrase(RandomKey());
  absl::StatusOr<int> slot =
      luks::ChangePassphrase(path_, pass_, next, KdfPolicy::kMachineKey);
  ASSERT_TRUE(slot.ok()) << slot.status();
  EXPECT_TRUE(luks::VerifyPassphrase(path_, next).ok());
  EXPECT_THAT(luks::VerifyPassphrase(path_, pass_),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(luks::Inspect(path_)->keyslots.size(), 1u);
}

TEST_P(LuksKeyslotsTest, ChangeWithWrongPassphraseChangesNothing) {
  EXPECT_THAT(luks::ChangePassphrase(path_, HexPassphrase(RandomKey()),
                                     HexPassphrase(RandomKey()),
                                     KdfPolicy::kMachineKey),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_TRUE(luks::VerifyPassphrase(path_, pass_).ok());
}

TEST_P(LuksKeyslotsTest, EmptyNewPassphraseIsInvalid) {
  EXPECT_THAT(luks::AddPassphrase(path_, pass_, SecretBytes(), KdfPolicy::kMachineKey),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// LUKS1 has 8 keyslots. LUKS2 has 32, but volcrypt's 4 MiB keyslot area
// fills first (a 512-bit key's AF-split area is ~250 KiB): either way, a
// full header is ResourceExhausted, not a generic failure.
TEST_P(LuksKeyslotsTest, FullKeyslotTableIsResourceExhausted) {
  const int table = GetParam() == LuksFormat::kLuks1 ? 8 : 32;
  absl::Status added;
  int slots = 1;
  while (slots <= table) {
    added = luks::AddPassphrase(path_, pass_, HexPassphrase(RandomKey()),
                                KdfPolicy::kMachineKey).status();
    if (!added.ok()) break;
    ++slots;
  }
  EXPECT_THAT(added, StatusIs(absl::StatusCode::kResourceExhausted)) << added;
  if (GetParam() == LuksFormat::kLuks1) {
    EXPECT_EQ(slots, 8);
  }
  EXPECT_GE(slots, 8);
}

INSTANTIATE_TEST_SUITE_P(BothFormats, LuksKeyslotsTest,
                         ::testing::Values(LuksFormat::kLuks1, LuksFormat::kLuks2),
                         ::volcrypt::testing::LuksFormatParamName);

}  // namespace
}  // namespace volcrypt
