#include "lib/luks/crypt_device.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "lib/luks/cryptsetup_loader.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace luks {

absl::Status CheckVolumePath(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    const int err = errno;
    return StatusFromErrno(err, absl::StrCat(path, ": ", strerror(err)));
  }
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                      absl::StrCat(path,
                                   ": not a regular file or a block device"));
  }
  return absl::OkStatus();
}

CryptDevice::CryptDevice(crypt_device* cd, std::string path)
    : cd_(cd), path_(std::move(path)) {
  crypt_set_log_callback(cd_, &CryptDevice::LogCallback, this);
}

CryptDevice::~CryptDevice() { crypt_free(cd_); }

void CryptDevice::LogCallback(int level, const char* msg, void* self) {
  // libcryptsetup never logs passphrases or key bytes; keep its last error to
  // explain a failure ("Device ... is too small.").
  if (level != CRYPT_LOG_ERROR || msg == nullptr) return;
  static_cast<CryptDevice*>(self)->last_error_ =
      std::string(absl::StripAsciiWhitespace(msg));
}

absl::StatusOr<std::unique_ptr<CryptDevice>> CryptDevice::Open(
    const std::string& path) {
  VOLCRYPT_RETURN_IF_ERROR(CheckVolumePath(path));
  crypt_device* cd = nullptr;
  const int r = crypt_init(&cd, path.c_str());
  if (r == -ELIBACC && !CryptsetupLoadError().empty()) {
    return ErrnoError(absl::StatusCode::kUnavailable, ELIBACC,
                      absl::StrCat(path, ": cannot open: libcryptsetup: ",
                                   CryptsetupLoadError()));
  }
  if (r < 0) {
    return StatusFromErrno(r, absl::StrCat(path, ": cannot open: ",
                                           strerror(-r)));
  }
  return std::unique_ptr<CryptDevice>(new CryptDevice(cd, path));
}

absl::StatusOr<std::unique_ptr<CryptDevice>> CryptDevice::Load(
    const std::string& path) {
  VOLCRYPT_ASSIGN_OR_RETURN(std::unique_ptr<CryptDevice> dev, Open(path));
  const int r = crypt_load(dev->get(), CRYPT_LUKS, nullptr);
  if (r == -EINVAL) {
    std::string msg = absl::StrCat(path, ": not a valid LUKS volume");
    if (!dev->last_error_.empty()) absl::StrAppend(&msg, " (", dev->last_error_, ")");
    return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL, msg);
  }
  if (r == -EIO) {
    // libcryptsetup reads past the end of a short file and says EIO; a
    // truncated header is bad input, not a failing disk.
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size < (1 << 20)) {
      return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                        absl::StrCat(path, ": truncated LUKS header (", st.st_size,
                                     " bytes)"));
    }
  }
  if (r < 0) return dev->Error(r, "load LUKS header");
  return dev;
}

absl::Status CryptDevice::Error(int r, const std::string& what) const {
  std::string msg = absl::StrCat(path_, ": ", what, " failed: ", strerror(-r));
  if (!last_error_.empty()) absl::StrAppend(&msg, " (", last_error_, ")");
  return StatusFromErrno(r, msg);
}

}  // namespace luks
}  // namespace volcrypt

namespace volcrypt {
namespace luks {

absl::Status ApplyKdfPolicy(const CryptDevice& dev, KdfPolicy policy,
                            const char* luks_type) {
  if (policy == KdfPolicy::kMachineKey) {
    crypt_pbkdf_type pbkdf = {};
    pbkdf.type = CRYPT_KDF_PBKDF2;
    pbkdf.hash = "sha256";
    pbkdf.iterations = 1000;  // the LUKS minimum
    pbkdf.flags = CRYPT_PBKDF_NO_BENCHMARK;
    const int r = crypt_set_pbkdf_type(dev.get(), &pbkdf);
    if (r < 0) return dev.Error(r, "set machine-key PBKDF2");
    return absl::OkStatus();
  }
  const crypt_pbkdf_type* defaults = crypt_get_pbkdf_default(luks_type);
  if (defaults == nullptr) {
    return absl::InternalError("libcryptsetup has no default PBKDF");
  }
  const int r = crypt_set_pbkdf_type(dev.get(), defaults);
  if (r < 0) return dev.Error(r, "set default PBKDF");
  return absl::OkStatus();
}

}  // namespace luks
}  // namespace volcrypt
