#include "volcrypt/secret_bytes.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <type_traits>

#include "tests/support/test_support.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::StatusIs;

// Returns the VmFlags line of the mapping in /proc/self/smaps that holds
// `p`, or "" if none does.
std::string VmFlagsOf(const void* p) {
  const auto addr = reinterpret_cast<uintptr_t>(p);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = begin <= addr && addr < end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line + " ";
    }
  }
  return "";
}

TEST(SecretBytesTest, StorageIsExcludedFromCoreDumps) {
  for (size_t size : {size_t{32}, size_t{4096}, size_t{70000}}) {
    SecretBytes secret = SecretBytes::Random(size).value();
    const std::string flags = VmFlagsOf(secret.data());
    ASSERT_FALSE(flags.empty()) << size;
    EXPECT_NE(flags.find(" dd "), std::string::npos) << size << ": " << flags;
    // Nothing but the secret shares its pages.
    EXPECT_EQ(reinterpret_cast<uintptr_t>(secret.data()) % 4096, 0u) << size;
  }
}

TEST(SecretBytesTest, ReusedStorageIsStillExcludedAndZeroed) {
  { SecretBytes first = SecretBytes::Random(64).value(); }
  SecretBytes again(64);
  EXPECT_NE(VmFlagsOf(again.data()).find(" dd "), std::string::npos);
  for (size_t i = 0; i < again.size(); ++i) ASSERT_EQ(again.data()[i], 0) << i;
}

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
