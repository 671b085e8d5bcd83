// RAII owner of a libcryptsetup context that turns libcryptsetup's return
// codes and its last logged error into absl::Status.
#ifndef VOLCRYPT_LIB_LUKS_CRYPT_DEVICE_H_
#define VOLCRYPT_LIB_LUKS_CRYPT_DEVICE_H_

#include <libcryptsetup.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "volcrypt/encryption_spec.h"

namespace volcrypt {
namespace luks {

class CryptDevice {
 public:
  // Opens a context on `path` (no header loaded). NotFound / InvalidArgument
  // for a missing path or one that is neither a regular file nor a block
  // device.
  static absl::StatusOr<std::unique_ptr<CryptDevice>> Open(
      const std::string& path);
  // Opens and loads a LUKS1 or LUKS2 header.
  static absl::StatusOr<std::unique_ptr<CryptDevice>> Load(
      const std::string& path);

  CryptDevice(const CryptDevice&) = delete;
  CryptDevice& operator=(const CryptDevice&) = delete;
  ~CryptDevice();

  crypt_device* get() const { return cd_; }
  const std::string& path() const { return path_; }

  // Returns a status for libcryptsetup's negative return `r` while doing
  // `what`, carrying errno -r and libcryptsetup's last error message.
  absl::Status Error(int r, const std::string& what) const;

 private:
  CryptDevice(crypt_device* cd, std::string path);
  static void LogCallback(int level, const char* msg, void* self);

  crypt_device* cd_;
  std::string path_;
  std::string last_error_;
};

// Returns an OK status if `path` exists and is a regular file or a block
// device, else NotFound / InvalidArgument naming the path.
absl::Status CheckVolumePath(const std::string& path);

// Sets the KDF for keyslots created next on `dev` from `policy` (see
// encryption_spec.h): PBKDF2-SHA256 at 1000 iterations without a benchmark for
// machine keys, libcryptsetup's default for the loaded or given type otherwise.
absl::Status ApplyKdfPolicy(const CryptDevice& dev, KdfPolicy policy,
                            const char* luks_type);

}  // namespace luks
}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_LUKS_CRYPT_DEVICE_H_
