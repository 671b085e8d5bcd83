// The RbdBackend members that need no librbd: built whether or not the Ceph
// implementation is (meson option rbd, module volcrypt-rbd.so), since the
// class's vtable lives with its first non-inline virtual, and test doubles
// and embedders' own backends derive from it.
#include "absl/strings/str_cat.h"
#include "lib/copy/raw_volume.h"
#include "volcrypt/rbd_backend.h"

namespace volcrypt {

absl::StatusOr<std::unique_ptr<RawVolume>> RbdBackend::OpenRaw(const VolumeLocation& where,
                                                               bool) {
  return absl::UnimplementedError(
      absl::StrCat(where.DebugString(), ": this rbd backend has no raw access"));
}

}  // namespace volcrypt
