#include "volcrypt/size_rule.h"

#include <gtest/gtest.h>

#include <limits>

#include "tests/support/test_support.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::StatusIs;

TEST(SizeRuleTest, PayloadOffsetsPerFormat) {
  EncryptionSpec spec;
  EXPECT_EQ(PayloadOffsetBytes(spec), 4u << 20);
  spec.format = LuksFormat::kLuks2;
  EXPECT_EQ(PayloadOffsetBytes(spec), 16u << 20);
}

TEST(SizeRuleTest, RawAndUsableAreInverse) {
  const uint64_t offset = 4 << 20;
  for (uint64_t usable : {512ull, 1ull << 20, 10ull << 30}) {
    absl::StatusOr<uint64_t> raw = RawBytesForUsable(offset, usable, 512);
    ASSERT_TRUE(raw.ok());
    EXPECT_EQ(*raw, usable + offset);
    EXPECT_EQ(*UsableBytesForRaw(offset, *raw, 512), usable);
  }
}

TEST(SizeRuleTest, UsableRoundsDownToSector) {
  EXPECT_EQ(*UsableBytesForRaw(16 << 20, (16 << 20) + 4096 + 100, 4096), 4096u);
}

TEST(SizeRuleTest, RejectsZeroUnalignedAndOverflow) {
  EXPECT_THAT(RawBytesForUsable(4 << 20, 0, 512),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RawBytesForUsable(4 << 20, 1000, 512),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RawBytesForUsable(4 << 20, 512, 4096),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RawBytesForUsable(4 << 20,
                                std::numeric_limits<uint64_t>::max() - 511, 512),
              StatusIs(absl::StatusCode::kOutOfRange));
}

TEST(SizeRuleTest, TooSmallRawIsOutOfRange) {
  EXPECT_THAT(UsableBytesForRaw(4 << 20, 4 << 20, 512),
              StatusIs(absl::StatusCode::kOutOfRange));
}

TEST(SizeRuleTest, ParseSizeAcceptsSuffixes) {
  EXPECT_EQ(*ParseSize("1073741824"), 1073741824u);
  EXPECT_EQ(*ParseSize("512K"), 512u << 10);
  EXPECT_EQ(*ParseSize("64M"), 64u << 20);
  EXPECT_EQ(*ParseSize("10G"), 10ull << 30);
  EXPECT_EQ(*ParseSize("2GiB"), 2ull << 30);
  EXPECT_EQ(*ParseSize("1t"), 1ull << 40);
}

TEST(SizeRuleTest, ParseSizeRejectsGarbage) {
  EXPECT_THAT(ParseSize(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseSize("M"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseSize("-5G"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseSize("12X"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseSize("99999999999T"), StatusIs(absl::StatusCode::kOutOfRange));
}

}  // namespace
}  // namespace volcrypt
