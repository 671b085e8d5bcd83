// Helpers shared by volcrypt's tests: private temp directories, running the
// independent tools (cryptsetup, qemu-img, qemu-io) with secrets passed
// through a pipe (never argv, environment or files), and status matchers.
#ifndef VOLCRYPT_TESTS_SUPPORT_TEST_SUPPORT_H_
#define VOLCRYPT_TESTS_SUPPORT_TEST_SUPPORT_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "volcrypt/key_manager.h"
#include "volcrypt/encryption_spec.h"
#include "volcrypt/secret_bytes.h"

namespace volcrypt {
namespace testing {

// A 0700 directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs argv[0] (searched in PATH) with `argv`. If `secret_fd3` is given, the
// child reads it from file descriptor 3 (a pipe), e.g. as /dev/fd/3.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const SecretBytes* secret_fd3 = nullptr);

// Waits for child `pid`; returns its exit code, or 128 + the signal that
// killed it.
int WaitForExit(pid_t pid);

// True if `tool` is found in PATH.
bool HaveTool(const std::string& tool);

// Creates a sparse file of `bytes` at `path` (fails the test on error).
void MakeSparseFile(const std::string& path, uint64_t bytes);

// Reads a whole file into a string.
std::string ReadFileOrDie(const std::string& path);

// A random 32-byte key and its hex passphrase.
SecretBytes RandomKey(size_t bytes = 32);

// "luks1" / "luks2": test names for suites parameterised by format.
std::string LuksFormatParamName(
    const ::testing::TestParamInfo<LuksFormat>& info);

// Whether the process runs as root (loop devices, chattr).
bool IsRoot();

}  // namespace testing
}  // namespace volcrypt

// Asserts that a Status or StatusOr is OK, printing the status if not.
#define VOLCRYPT_ASSERT_OK(expr) \
  ASSERT_TRUE(::volcrypt::testing::StatusOf(expr).ok()) \
      << ::volcrypt::testing::StatusOf(expr)
#define VOLCRYPT_EXPECT_OK(expr) \
  EXPECT_TRUE(::volcrypt::testing::StatusOf(expr).ok()) \
      << ::volcrypt::testing::StatusOf(expr)

namespace volcrypt {
namespace testing {

inline const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

// The id of a key just made, for tests that need only the id.
inline absl::StatusOr<std::string> KeyIdOf(absl::StatusOr<NewKey> made) {
  if (!made.ok()) return made.status();
  return std::move(made->id);
}

// Matches a Status/StatusOr whose code is `code`.
MATCHER_P(StatusIs, code, "") {
  const absl::Status& s = StatusOf(arg);
  if (s.code() == code) return true;
  *result_listener << "status is " << s;
  return false;
}

// Matches a Status/StatusOr with `code` whose message contains `text`.
MATCHER_P2(StatusIsWith, code, text, "") {
  const absl::Status& s = StatusOf(arg);
  if (s.code() == code &&
      std::string(s.message()).find(text) != std::string::npos) {
    return true;
  }
  *result_listener << "status is " << s;
  return false;
}

// Fails the test if `text` holds `key` raw, as its hex passphrase, or in
// base64 (the three forms a key travels in).
void ExpectNoSecretIn(const std::string& text, const SecretBytes& key);

}  // namespace testing
}  // namespace volcrypt

#endif  // VOLCRYPT_TESTS_SUPPORT_TEST_SUPPORT_H_
