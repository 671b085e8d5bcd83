// File: volcrypt/mapped_backend.h
// -----------------------------------------------------------------------------
// MappedBackend keeps volumes at host paths, as cinder's iSCSI/FC/LVM/file
// drivers present them to a compute host:
//   - a path that does not exist yet becomes a sparse regular file (0600,
//     created exclusively, never through a symlink);
//   - an existing block device (an LV, a loop or iSCSI device) is used as is:
//     Create checks that it is large enough, Resize that it has been grown.
// Every access opens the volume's parent directory and then its final
// component with openat(): a file is never reached through a symlink (a name
// swapped for one is refused with ELOOP, whatever it points to); a symlink is
// followed only to a block device, judged on the opened descriptor.
// Delete unlinks a file, only while its name still holds the file it opened. For a block device it destroys the LUKS header region
// (a crypto-erase: without the keyslots the data can never be decrypted)
// and leaves the device itself to its owner.
//
//   std::unique_ptr<BlockBackend> mapped = NewMappedBackend();
#ifndef VOLCRYPT_MAPPED_BACKEND_H_
#define VOLCRYPT_MAPPED_BACKEND_H_

#include <memory>

#include "volcrypt/block_backend.h"

namespace volcrypt {

std::unique_ptr<BlockBackend> NewMappedBackend();

}  // namespace volcrypt

#endif  // VOLCRYPT_MAPPED_BACKEND_H_
