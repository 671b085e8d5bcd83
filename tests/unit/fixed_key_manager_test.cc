#include "volcrypt/fixed_key_manager.h"

#include <sys/stat.h>

#include <fstream>
#include <mutex>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::StatusIsWith;
using ::volcrypt::testing::TempDir;

class RecordingLogger : public Logger {
 public:
  void Log(LogLevel level, absl::string_view line) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines.emplace_back(LogLevelName(level), std::string(line));
  }
  std::vector<std::pair<std::string, std::string>> lines;

 private:
  std::mutex mu_;
};

constexpr char kHex[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

SecretBytes FixedKey() { return SecretFromHex(kHex).value(); }

TEST(FixedKeyManagerTest, BehavesAsConfKeyManager) {
  RecordingLogger log;
  auto keys = NewFixedKeyManager(FixedKey(), &log);
  KeyRequest r;
  r.name = "whatever";
  EXPECT_EQ(keys->CreateKey(r)->id, kFixedKeyId);
  EXPECT_EQ(keys->CreateKey(r)->id, kFixedKeyId);
  EXPECT_TRUE(keys->GetKey(kFixedKeyId)->Equals(FixedKey()));
  EXPECT_EQ(*keys->StoreKey(FixedKey(), r), kFixedKeyId);
  EXPECT_THAT(keys->StoreKey(SecretBytes::Random(32).value(), r),
              StatusIsWith(absl::StatusCode::kUnimplemented, "arbitrary keys"));
  EXPECT_THAT(keys->GetKey("11111111-1111-1111-1111-111111111111"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(keys->DeleteKey("11111111-1111-1111-1111-111111111111"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(keys->IsSharedKey(kFixedKeyId));
  EXPECT_TRUE(keys->FindKeysByName("whatever")->empty());
}

TEST(FixedKeyManagerTest, DeleteOfTheFixedKeyIsALoggedNoOp) {
  RecordingLogger log;
  auto keys = NewFixedKeyManager(FixedKey(), &log);
  VOLCRYPT_EXPECT_OK(keys->DeleteKey(kFixedKeyId));
  EXPECT_TRUE(keys->GetKey(kFixedKeyId).ok());
  ASSERT_FALSE(log.lines.empty());
  EXPECT_EQ(log.lines.back().first, "WARNING");
  EXPECT_EQ(log.lines.back().second,
            std::string("Not deleting key ") + kFixedKeyId);
}

TEST(FixedKeyManagerTest, ReadFixedKeyFileLikeCastellanConfig) {
  TempDir tmp;
  const std::string path = tmp.File("fixed_key");
  std::ofstream(path) << "\n  " << kHex << "  \n";
  chmod(path.c_str(), 0600);
  absl::StatusOr<SecretBytes> key = ReadFixedKeyFile(path);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_TRUE(key->Equals(FixedKey()));

  std::ofstream(path) << "not hex";
  absl::StatusOr<SecretBytes> bad = ReadFixedKeyFile(path);
  EXPECT_THAT(bad, StatusIsWith(absl::StatusCode::kInvalidArgument, path));
  EXPECT_EQ(std::string(bad.status().message()).find("not hex"), std::string::npos);
}

}  // namespace
}  // namespace volcrypt
