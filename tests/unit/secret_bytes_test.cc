#include "volcrypt/secret_bytes.h"

#include <gtest/gtest.h>

#include <type_traits>

#include "tests/support/test_support.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::StatusIs;

TEST(SecretBytesTest, IsMoveOnly) {
  static_assert(!std::is_copy_constructible_v<SecretBytes>);
  static_assert(!std::is_copy_assignable_v<SecretBytes>);
  static_assert(std::is_nothrow_move_constructible_v<SecretBytes>);
  static_assert(!std::is_convertible_v<SecretBytes, std::string>);
}

TEST(SecretBytesTest, MoveLeavesSourceEmpty) {
  SecretBytes a = SecretBytes::CopyOf("abc", 3);
  SecretBytes b = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the contract
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(std::string(b.char_data(), b.size()), "abc");
}

TEST(SecretBytesTest, DebugStringHidesContents) {
  SecretBytes s = SecretBytes::CopyOf("hunter2", 7);
  EXPECT_EQ(s.DebugString(), "[redacted 7 bytes]");
}

TEST(SecretBytesTest, RandomGivesRequestedSizeAndDiffers) {
  absl::StatusOr<SecretBytes> a = SecretBytes::Random(32);
  absl::StatusOr<SecretBytes> b = SecretBytes::Random(32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_FALSE(a->Equals(*b));
  EXPECT_TRUE(a->Equals(a->Clone()));
}

TEST(SecretBytesTest, TruncateKeepsPrefix) {
  SecretBytes s = SecretBytes::CopyOf("abcdef", 6);
  s.Truncate(2);
  EXPECT_EQ(std::string(s.char_data(), s.size()), "ab");
}

TEST(SecretBytesTest, HexPassphraseIsLowercaseHexAsOpenStackDerivesIt) {
  const uint8_t raw[] = {0x00, 0xab, 0xCD, 0x7f, 0xff};
  SecretBytes pass = HexPassphrase(SecretBytes::CopyOf(raw, sizeof(raw)));
  EXPECT_EQ(std::string(pass.char_data(), pass.size()), "00abcd7fff");
}

TEST(SecretBytesTest, SecretFromHexRoundTripsAndIgnoresWhitespace) {
  absl::StatusOr<SecretBytes> key = SecretFromHex("  00ABcd7f\n");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(std::string(HexPassphrase(*key).char_data(), 8), "00abcd7f");
}

TEST(SecretBytesTest, SecretFromHexRejectsBadInputWithoutEchoingIt) {
  EXPECT_THAT(SecretFromHex(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SecretFromHex("abc"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  absl::StatusOr<SecretBytes> bad = SecretFromHex("00zz11");
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(std::string(bad.status().message()).find("00zz11"),
            std::string::npos);
  EXPECT_NE(std::string(bad.status().message()).find("position 2"),
            std::string::npos);
}

}  // namespace
}  // namespace volcrypt
