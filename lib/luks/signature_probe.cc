#include <blkid/blkid.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "lib/luks/crypt_device.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"
#include "volcrypt/luks.h"

namespace volcrypt {
namespace luks {
namespace {

using Probe = std::unique_ptr<blkid_struct_probe, decltype(&blkid_free_probe)>;

absl::Status CannotProbe(const std::string& path) {
  const int err = errno != 0 ? errno : EIO;
  return StatusFromErrno(err, absl::StrCat(path, ": cannot probe: ",
                                           strerror(err)));
}

absl::StatusOr<ContentProbe> RunProbe(blkid_probe probe,
                                      const std::string& path) {
  blkid_probe_enable_superblocks(probe, 1);
  blkid_probe_set_superblocks_flags(probe, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID);
  blkid_probe_enable_partitions(probe, 1);
  blkid_probe_set_partitions_flags(probe, BLKID_PARTS_MAGIC);

  const int r = blkid_do_safeprobe(probe);
  ContentProbe result;
  if (r == 1) return result;  // nothing found
  if (r == -2) {
    // Several signatures that contradict each other: certainly not blank.
    result.kind = ContentKind::kOtherSignature;
    result.type = "ambiguous";
    return result;
  }
  if (r < 0) {
    return ErrnoError(absl::StatusCode::kDataLoss, EIO,
                      absl::StrCat(path, ": probing for signatures failed"));
  }
  const char* value = nullptr;
  if (blkid_probe_lookup_value(probe, "TYPE", &value, nullptr) == 0 ||
      blkid_probe_lookup_value(probe, "PTTYPE", &value, nullptr) == 0) {
    result.type = value;
  } else {
    result.type = "unknown";
  }
  if (blkid_probe_lookup_value(probe, "UUID", &value, nullptr) == 0) {
    result.uuid = value;
  }
  result.kind = result.type == "crypto_LUKS" ? ContentKind::kLuks
                                             : ContentKind::kOtherSignature;
  return result;
}

}  // namespace

absl::StatusOr<ContentProbe> ProbeContent(const std::string& path) {
  VOLCRYPT_RETURN_IF_ERROR(CheckVolumePath(path));
  errno = 0;
  Probe probe(blkid_new_probe_from_filename(path.c_str()), &blkid_free_probe);
  if (probe == nullptr) return CannotProbe(path);
  return RunProbe(probe.get(), path);
}

absl::StatusOr<ContentProbe> ProbeContentFd(int fd, const std::string& path) {
  errno = 0;
  Probe probe(blkid_new_probe(), &blkid_free_probe);
  if (probe == nullptr || blkid_probe_set_device(probe.get(), fd, 0, 0) != 0) {
    return CannotProbe(path);
  }
  return RunProbe(probe.get(), path);
}

}  // namespace luks
}  // namespace volcrypt
