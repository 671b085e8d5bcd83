// Raw access to a volume's bytes (header and payload alike) for the payload
// copier: whole-buffer reads and writes, the extents that may hold data (so
// holes are never read), and a durability barrier. Files and block devices
// are opened here; RBD images through RbdBackend::OpenRaw (librbd).
#ifndef VOLCRYPT_LIB_COPY_RAW_VOLUME_H_
#define VOLCRYPT_LIB_COPY_RAW_VOLUME_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace volcrypt {

class RawVolume {
 public:
  RawVolume() = default;
  RawVolume(const RawVolume&) = delete;
  RawVolume& operator=(const RawVolume&) = delete;
  virtual ~RawVolume();

  virtual uint64_t size() const = 0;
  // All of `len` bytes at `offset`, or an error naming the volume.
  virtual absl::Status Read(uint64_t offset, void* buf, size_t len) = 0;
  virtual absl::Status Write(uint64_t offset, const void* buf, size_t len) = 0;
  // Calls `fn(offset, length)`, in increasing order, for each range of
  // [offset, offset + len) that may hold data; the rest reads as zeros and
  // was never written (a file's holes, SEEK_DATA; an image's unallocated
  // extents, rbd_diff_iterate2). A backend that cannot tell reports it all.
  virtual absl::Status ForEachDataExtent(
      uint64_t offset, uint64_t len,
      const std::function<absl::Status(uint64_t, uint64_t)>& fn) = 0;
  // Everything written so far is durable.
  virtual absl::Status Sync() = 0;
};

// Opens the regular file or block device at `path`.
absl::StatusOr<std::unique_ptr<RawVolume>> OpenRawFile(const std::string& path,
                                                       bool writable);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_COPY_RAW_VOLUME_H_
