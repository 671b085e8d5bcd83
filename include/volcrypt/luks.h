// File: volcrypt/luks.h
// -----------------------------------------------------------------------------
// The LUKS core: everything volcrypt does with LUKS headers, over
// libcryptsetup, on a host path (a regular file, a block device, or the
// in-memory header image of a volume that is not a host path, such as an RBD
// image). It knows nothing of backends or of where passphrases come from.
//
// Nothing here activates a mapping (no dm-crypt): unlocking checks a
// passphrase against a keyslot and stops there. QEMU or librbd decrypt.
//
//   EncryptionSpec spec;  // LUKS1, AES-256-XTS, machine-key KDF
//   SecretBytes pass = HexPassphrase(key);
//   absl::Status s = luks::FormatPath("/var/lib/vols/v1", spec, pass, {});
//   absl::StatusOr<int> slot = luks::VerifyPassphrase("/var/lib/vols/v1", pass);
//   absl::StatusOr<luks::LuksInfo> info = luks::Inspect("/var/lib/vols/v1");
//
// Errors (the errno from libcryptsetup or the OS is kept, see errors.h):
//   NotFound           the path does not exist
//   InvalidArgument    not a LUKS volume, a damaged or truncated header, a bad spec
//   PermissionDenied   no keyslot accepts the passphrase (errno EPERM), or the
//                      path cannot be opened for writing (EACCES, EROFS)
//   FailedPrecondition the target already holds LUKS or another signature
//                      (errno EEXIST), or removing the last keyslot
//   OutOfRange         the device is too small for the header and one sector
#ifndef VOLCRYPT_LUKS_H_
#define VOLCRYPT_LUKS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "volcrypt/encryption_spec.h"
#include "volcrypt/secret_bytes.h"

namespace volcrypt {
namespace luks {

// A complete LUKS header region (from offset 0 up to the payload offset) held
// in anonymous memory (memfd), never in a file on disk. libcryptsetup reaches
// it through path(). The header holds no secret in clear: keyslots are
// encrypted by the passphrase. Move-only; the memory is freed on destruction.
class LuksHeaderImage {
 public:
  // A zero-filled image of `size` bytes.
  static absl::StatusOr<LuksHeaderImage> Create(uint64_t size);

  LuksHeaderImage(LuksHeaderImage&& other) noexcept;
  LuksHeaderImage& operator=(LuksHeaderImage&& other) noexcept;
  LuksHeaderImage(const LuksHeaderImage&) = delete;
  LuksHeaderImage& operator=(const LuksHeaderImage&) = delete;
  ~LuksHeaderImage();

  // A path through which libcryptsetup (in this process) can open the image.
  const std::string& path() const { return path_; }
  int fd() const { return fd_; }
  uint64_t size() const { return size_; }

  // Reads or writes bytes of the image at `offset`.
  absl::Status Read(uint64_t offset, void* buf, size_t len) const;
  absl::Status Write(uint64_t offset, const void* buf, size_t len);

 private:
  LuksHeaderImage(int fd, uint64_t size);
  void Close();

  int fd_ = -1;
  uint64_t size_ = 0;
  std::string path_;
};

// What a volume holds at its start.
enum class ContentKind {
  kNoSignature,     // nothing recognised: safe to format
  kLuks,            // a LUKS1 or LUKS2 header
  kOtherSignature,  // a filesystem, partition table, RAID member, ...
};

struct ContentProbe {
  ContentKind kind = ContentKind::kNoSignature;
  // blkid's name for what was found ("crypto_LUKS", "ext4", "dos", ...).
  std::string type;
  // The UUID of what was found, where it has one (a LUKS header's).
  std::string uuid;
};

// Returns what `path` holds, probing with libblkid (superblocks and partition
// tables, the same probe `cryptsetup luksFormat` warns from).
absl::StatusOr<ContentProbe> ProbeContent(const std::string& path);
// The same for a volume already open at `fd` (not closed; `what` names it in
// errors), so a caller probes exactly what it opened, not what a path
// resolves to a moment later.
absl::StatusOr<ContentProbe> ProbeContentFd(int fd,
                                                            const std::string& what);

struct FormatOptions {
  // Write over a device that already holds LUKS or another signature.
  // Destroys access to whatever was there.
  bool force = false;
};

// Returns a header image for `spec` with one keyslot (slot 0) unlocked by
// `passphrase`, the payload at PayloadOffsetBytes(spec) (size_rule.h), and a
// fresh random volume key. Write it at offset 0 of a volume to encrypt it.
absl::StatusOr<LuksHeaderImage> BuildHeaderImage(const EncryptionSpec& spec,
                                                 const SecretBytes& passphrase);

// Random access to a volume that is not (or not only) a host path, e.g. an
// RBD image: pread/pwrite-like calls that do all of `len` or fail, and a
// durability barrier.
struct VolumeIo {
  std::function<absl::Status(uint64_t offset, void* buf, size_t len)> read;
  std::function<absl::Status(uint64_t offset, const void* buf, size_t len)>
      write;
  std::function<absl::Status()> sync;
};

// Writes `image` at offset 0 of a volume of `device_bytes`, then syncs. The
// keyslot area is written and synced before the first 64 KiB (the header
// proper), so a crash never leaves a valid-looking header in front of
// missing keyslots. Zero chunks that are already zero on the volume are
// skipped, keeping sparse files and thin images thin. OutOfRange if the
// volume cannot hold the header and one payload sector.
absl::Status WriteHeaderImage(const VolumeIo& io,
                                              uint64_t device_bytes,
                                              const LuksHeaderImage& image,
                                              uint32_t sector_size,
                                              const std::string& what);

// The same on the file or block device open (read-write) at `fd`; a
// read-only block device is PermissionDenied (EROFS) before any write.
absl::Status WriteHeaderImage(int fd, uint64_t device_bytes,
                                              const LuksHeaderImage& image,
                                              uint32_t sector_size,
                                              const std::string& what);

// Formats the file or block device at `path`: probes it (refusing LUKS or any
// other signature unless options.force), builds a header image and writes it.
absl::Status FormatPath(const std::string& path, const EncryptionSpec& spec,
                        const SecretBytes& passphrase,
                        const FormatOptions& options);

// Returns the keyslot that `passphrase` unlocks. PermissionDenied if none.
absl::StatusOr<int> VerifyPassphrase(const std::string& path,
                                     const SecretBytes& passphrase);

// Adds `new_passphrase` in a free keyslot, authorised by `passphrase`, with
// the KDF of `policy`. Returns the new keyslot. ResourceExhausted if no
// keyslot is free.
absl::StatusOr<int> AddPassphrase(const std::string& path,
                                  const SecretBytes& passphrase,
                                  const SecretBytes& new_passphrase,
                                  KdfPolicy policy);

// Destroys the keyslot that `passphrase` unlocks. FailedPrecondition if it is
// the last active keyslot (that would make the volume unreadable forever).
absl::Status RemovePassphrase(const std::string& path,
                              const SecretBytes& passphrase);

// Replaces `passphrase` by `new_passphrase` (rekey of one keyslot; the volume
// key and the data are unchanged). Returns the keyslot now holding it.
absl::StatusOr<int> ChangePassphrase(const std::string& path,
                                     const SecretBytes& passphrase,
                                     const SecretBytes& new_passphrase,
                                     KdfPolicy policy);

struct KeyslotInfo {
  int slot = 0;
  std::string pbkdf;       // "pbkdf2", "argon2id", "argon2i"
  uint32_t iterations = 0;  // PBKDF2 iterations or argon2 time cost
};

// Facts read from a LUKS header (no passphrase needed).
struct LuksInfo {
  LuksFormat format = LuksFormat::kLuks1;
  std::string cipher;             // dm-crypt notation, "aes-xts-plain64"
  uint32_t volume_key_bits = 0;   // cryptsetup's --key-size (512 for AES-256-XTS)
  int key_bits = 0;               // AES strength (encryption_spec.h's meaning)
  uint64_t payload_offset_bytes = 0;
  uint32_t sector_size = 512;
  std::string uuid;
  std::vector<KeyslotInfo> keyslots;  // active keyslots only
  uint64_t device_bytes = 0;
  uint64_t payload_bytes = 0;         // what a guest sees
};

// Reads the header of `path`. InvalidArgument if it is not LUKS.
absl::StatusOr<LuksInfo> Inspect(const std::string& path);

// Returns how many bytes from offset 0 hold the LUKS header region (its
// payload offset). `first_bytes` holds the volume's start: 4096 bytes suffice
// for LUKS1; LUKS2 needs both binary headers and JSON areas and, as
// libcryptsetup checks sizes, an image as large as the volume (sparse is
// fine). InvalidArgument if the bytes are not a LUKS header.
absl::StatusOr<uint64_t> HeaderRegionBytes(const LuksHeaderImage& first_bytes);

// Reads a volume's LUKS header region into a header image, through `read`
// (pread-like: fills `len` bytes at `offset` of the volume, or fails).
// `device_bytes` is the volume's size. InvalidArgument if it holds no LUKS.
using VolumeReader =
    std::function<absl::Status(uint64_t offset, void* buf, size_t len)>;
absl::StatusOr<LuksHeaderImage> CopyHeaderRegion(const VolumeReader& read,
                                                 uint64_t device_bytes);

}  // namespace luks
}  // namespace volcrypt

#endif  // VOLCRYPT_LUKS_H_
