// Fuzzes the small secret files an operator hands volcrypt by path, read
// through the same checks as in production (a private 0600 regular file):
//   ReadFixedKeyFile (the fixed key manager's hex key: castellan's
//   fixed_key), ReadMasterKeyFile (FileKeyManager's master key: 32 raw bytes
//   or 64 hex digits) and ReadPasswordFile (a Keystone password), and
//   SecretFromHex on the bytes directly (files are capped at 4096 bytes;
//   this also reaches longer texts).
// Properties: a hex key has half as many bytes as the trimmed text has
// digits; a master key is exactly kMasterKeyBytes; a password is non-empty
// and at most as long as the file.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tests/fuzz/fuzz_check.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/fixed_key_manager.h"
#include "volcrypt/keystone_auth.h"
#include "volcrypt/secret_bytes.h"

namespace volcrypt {
namespace {

// One private directory per process, under $TMPDIR (the runner points that
// at its own work directory), removed at exit.
class KeyFile {
 public:
  KeyFile() {
    const char* tmp = std::getenv("TMPDIR");
    dir_ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
           "/volcrypt-key-files-fuzz-XXXXXX";
    FUZZ_CHECK(mkdtemp(&dir_[0]) != nullptr);
    path_ = dir_ + "/key";
    std::atexit([] { Get().Remove(); });
  }
  static KeyFile& Get() {
    static KeyFile* const file = new KeyFile();
    return *file;
  }
  // Replaces the file's contents by `bytes` and returns its path.
  const std::string& Write(const uint8_t* bytes, size_t size) {
    const int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(size == 0 || write(fd, bytes, size) == static_cast<ssize_t>(size));
    close(fd);
    return path_;
  }
  void Remove() {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }

 private:
  std::string dir_;
  std::string path_;
};

size_t TrimmedLength(absl::string_view s) {
  const char* space = " \t\n\r\f\v";
  const size_t begin = s.find_first_not_of(space);
  if (begin == absl::string_view::npos) return 0;
  return s.find_last_not_of(space) - begin + 1;
}

void FuzzKeyFiles(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<SecretBytes> hex = SecretFromHex(text);
  if (hex.ok()) FUZZ_CHECK(hex->size() * 2 == TrimmedLength(text));

  const std::string& path = KeyFile::Get().Write(data, size);
  absl::StatusOr<SecretBytes> fixed = ReadFixedKeyFile(path);
  FUZZ_CHECK(fixed.ok() == (hex.ok() && size <= 4096));
  absl::StatusOr<SecretBytes> master = ReadMasterKeyFile(path);
  if (master.ok()) FUZZ_CHECK(master->size() == kMasterKeyBytes);
  absl::StatusOr<SecretBytes> password = ReadPasswordFile(path);
  if (password.ok()) FUZZ_CHECK(!password->empty() && password->size() <= size);
}

}  // namespace
}  // namespace volcrypt

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  volcrypt::FuzzKeyFiles(data, size);
  return 0;
}
