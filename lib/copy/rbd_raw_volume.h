// RawVolume over an open librbd image (used by RbdBackend::OpenRaw).
#ifndef VOLCRYPT_LIB_COPY_RBD_RAW_VOLUME_H_
#define VOLCRYPT_LIB_COPY_RBD_RAW_VOLUME_H_

#include <rados/librados.h>
#include <rbd/librbd.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "lib/copy/raw_volume.h"

namespace volcrypt {

// Takes ownership of `io` and of the image `image` opened on it; `name` is
// "pool/image" for messages.
absl::StatusOr<std::unique_ptr<RawVolume>> WrapRbdImage(rados_ioctx_t io,
                                                        rbd_image_t image,
                                                        std::string name);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_COPY_RBD_RAW_VOLUME_H_
