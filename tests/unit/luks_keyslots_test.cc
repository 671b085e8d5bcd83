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

TEST_P(LuksKeyslotsTest, FullKeyslotTableIsResourceExhausted) {
  if (GetParam() == LuksFormat::kLuks2) GTEST_SKIP() << "LUKS2 has 32 slots; LUKS1 covers the rule";
  for (int i = 1; i < 8; ++i) {
    ASSERT_TRUE(luks::AddPassphrase(path_, pass_, HexPassphrase(RandomKey()),
                                    KdfPolicy::kMachineKey).ok());
  }
  EXPECT_THAT(luks::AddPassphrase(path_, pass_, HexPassphrase(RandomKey()),
                                  KdfPolicy::kMachineKey),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

INSTANTIATE_TEST_SUITE_P(BothFormats, LuksKeyslotsTest,
                         ::testing::Values(LuksFormat::kLuks1, LuksFormat::kLuks2),
                         ::volcrypt::testing::LuksFormatParamName);

}  // namespace
}  // namespace volcrypt
