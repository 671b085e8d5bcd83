// File: volcrypt/block_backend.h
// -----------------------------------------------------------------------------
// A BlockBackend is where a volume's bytes live: it creates, deletes and
// resizes volumes, writes and reads their LUKS header region, and describes
// them as a libvirt disk source. It knows nothing of keys; the LUKS core
// (luks.h) builds the headers it writes.
//
// Implementations: MappedBackend (host paths: files, block devices;
// mapped_backend.h) and RbdBackend (Ceph RBD images).
//
//   std::unique_ptr<BlockBackend> backend = NewMappedBackend();
//   VolumeLocation where = VolumeLocation::Path("/var/lib/vols/v1");
//   absl::Status s = backend->Create(where, raw_bytes);
//   absl::StatusOr<FirstUseResult> r =
//       FormatOnFirstUse(*backend, where, spec, passphrase);
//
// Thread safety: a BlockBackend may be used from several threads at once;
// operations on the same volume must be serialised by the caller.
#ifndef VOLCRYPT_BLOCK_BACKEND_H_
#define VOLCRYPT_BLOCK_BACKEND_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "volcrypt/encryption_spec.h"
#include "volcrypt/luks.h"
#include "volcrypt/secret_bytes.h"

namespace volcrypt {

enum class BackendKind { kMapped, kRbd };

// "mapped" / "rbd" and back.
absl::string_view BackendKindName(BackendKind kind);
absl::StatusOr<BackendKind> ParseBackendKind(absl::string_view name);

// Where a volume lives on its backend.
struct VolumeLocation {
  BackendKind kind = BackendKind::kMapped;
  std::string path;   // kMapped: absolute host path of a file or block device
  std::string pool;   // kRbd
  std::string image;  // kRbd

  static VolumeLocation Path(std::string path);
  static VolumeLocation Rbd(std::string pool, std::string image);
  // "/var/lib/vols/v1" or "rbd:pool/image": for messages.
  std::string DebugString() const;
};

struct VolumeStat {
  uint64_t raw_bytes = 0;
  bool block_device = false;  // an existing device: cannot grow by itself
};

// The disk source libvirt needs (the XML is built by the attacher).
struct DiskSource {
  enum class Type { kFile, kBlock, kNetwork };
  Type type = Type::kFile;
  std::string path;  // kFile, kBlock
  std::string pool;  // kNetwork (rbd)
  std::string image;
  struct Host {
    std::string name;
    int port = 0;
  };
  std::vector<Host> hosts;        // kNetwork: Ceph monitors
  // kNetwork: the cephx user ("admin") if the client has a cephx key, and
  // the libvirt secret of usage 'ceph' holding it ("" if none is
  // configured: the disk XML then has no <auth>, and attach refuses).
  std::string auth_username;
  std::string auth_secret_uuid;
};

class BlockBackend {
 public:
  BlockBackend() = default;
  BlockBackend(const BlockBackend&) = delete;
  BlockBackend& operator=(const BlockBackend&) = delete;
  virtual ~BlockBackend();

  virtual BackendKind kind() const = 0;

  // Makes a volume of exactly `raw_bytes` (all zeros where the backend can
  // promise it). AlreadyExists if something is already there.
  virtual absl::Status Create(const VolumeLocation& where,
                              uint64_t raw_bytes) = 0;

  // Removes the volume so its data cannot be read again. NotFound if absent.
  virtual absl::Status Delete(const VolumeLocation& where) = 0;

  // Grows the volume to `raw_bytes`. OutOfRange for a shrink, or when the
  // backend cannot grow it (an existing block device that is too small).
  virtual absl::Status Resize(const VolumeLocation& where,
                              uint64_t raw_bytes) = 0;

  // Returns the volume's size. NotFound if absent.
  virtual absl::StatusOr<VolumeStat> Stat(const VolumeLocation& where) = 0;

  // Returns what the volume holds at its start (LUKS, another signature,
  // nothing recognised).
  virtual absl::StatusOr<luks::ContentProbe> Probe(
      const VolumeLocation& where) = 0;

  // Writes `image` at offset 0 (see luks::WriteHeaderImage for the write
  // order). Without `force`, FailedPrecondition (errno EEXIST) if the volume
  // already holds LUKS or another signature.
  virtual absl::Status WriteLuksHeader(const VolumeLocation& where,
                                       const luks::LuksHeaderImage& image,
                                       uint32_t sector_size, bool force) = 0;

  // Returns a copy of the volume's LUKS header region, on which the LUKS
  // core can verify passphrases and inspect. InvalidArgument if not LUKS.
  virtual absl::StatusOr<luks::LuksHeaderImage> ReadLuksHeader(
      const VolumeLocation& where) = 0;

  // Returns how libvirt reaches the volume.
  virtual absl::StatusOr<DiskSource> DescribeDisk(
      const VolumeLocation& where) = 0;
};

enum class FirstUseResult { kFormatted, kAlreadyLuks };

// The mapped-volume flow's first use: formats the volume for `spec` with
// `passphrase` if it holds nothing recognisable; leaves a LUKS volume alone
// (never reformats); refuses (FailedPrecondition, errno EEXIST) a volume
// holding another signature, whose data would otherwise be destroyed.
absl::StatusOr<FirstUseResult> FormatOnFirstUse(BlockBackend& backend,
                                                const VolumeLocation& where,
                                                const EncryptionSpec& spec,
                                                const SecretBytes& passphrase);

}  // namespace volcrypt

#endif  // VOLCRYPT_BLOCK_BACKEND_H_
