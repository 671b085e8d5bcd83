#include <blkid/blkid.h>

#include <cerrno>
#include <memory>

#include "absl/strings/str_cat.h"
#include "lib/luks/crypt_device.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"
#include "volcrypt/luks.h"

namespace volcrypt {
namespace luks {

absl::StatusOr<ContentProbe> ProbeContent(const std::string& path) {
  VOLCRYPT_RETURN_IF_ERROR(CheckVolumePath(path));
  std::unique_ptr<blkid_struct_probe, decltype(&blkid_free_probe)> probe(
      blkid_new_probe_from_filename(path.c_str()), &blkid_free_probe);
  if (probe == nullptr) {
    const int err = errno != 0 ? errno : EIO;
    return StatusFromErrno(err, absl::StrCat(path, ": cannot probe: ",
                                             strerror(err)));
  }
  blkid_probe_enable_superblocks(probe.get(), 1);
  blkid_probe_set_superblocks_flags(probe.get(), BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID);
  blkid_probe_enable_partitions(probe.get(), 1);
  blkid_probe_set_partitions_flags(probe.get(), BLKID_PARTS_MAGIC);

  const int r = blkid_do_safeprobe(probe.get());
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
  if (blkid_probe_lookup_value(probe.get(), "TYPE", &value, nullptr) == 0 ||
      blkid_probe_lookup_value(probe.get(), "PTTYPE", &value, nullptr) == 0) {
    result.type = value;
  } else {
    result.type = "unknown";
  }
  if (blkid_probe_lookup_value(probe.get(), "UUID", &value, nullptr) == 0) {
    result.uuid = value;
  }
  result.kind = result.type == "crypto_LUKS" ? ContentKind::kLuks
                                             : ContentKind::kOtherSignature;
  return result;
}

}  // namespace luks
}  // namespace volcrypt
