// AES-XTS over a LUKS payload, as dm-crypt, QEMU and librbd lay it out
// (cipher "aes-xts-plain64"): each encryption sector is one XTS data unit
// whose tweak is the plain64 IV, the sector's number counted in 512-byte
// units from the payload's start, little-endian, zero-padded to 16 bytes.
// For 4096-byte sectors that is offset / 512 too (cryptsetup's LUKS2 default
// without iv_large_sectors, which librbd follows), so one rule covers
// LUKS1's 512-byte and LUKS2's 4096-byte sectors.
#ifndef VOLCRYPT_LIB_COPY_XTS_CIPHER_H_
#define VOLCRYPT_LIB_COPY_XTS_CIPHER_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "volcrypt/secret_bytes.h"

namespace volcrypt {

class XtsCipher {
 public:
  // `volume_key` is the LUKS volume key (two AES keys: 32 or 64 bytes);
  // `sector_size` 512 to 4096. InvalidArgument otherwise.
  static absl::StatusOr<XtsCipher> Create(const SecretBytes& volume_key,
                                          uint32_t sector_size);

  // Encrypt or decrypt `len` bytes in place; `payload_offset` is the payload
  // offset of buf[0]. Both must be multiples of the sector size. Safe to
  // call from several threads at once (each call has its own context).
  absl::Status Encrypt(uint8_t* buf, size_t len, uint64_t payload_offset) const;
  absl::Status Decrypt(uint8_t* buf, size_t len, uint64_t payload_offset) const;

  uint32_t sector_size() const { return sector_size_; }

 private:
  XtsCipher(SecretBytes key, uint32_t sector_size)
      : key_(std::move(key)), sector_size_(sector_size) {}
  absl::Status Run(uint8_t* buf, size_t len, uint64_t payload_offset, bool encrypt) const;

  SecretBytes key_;
  uint32_t sector_size_;
};

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_COPY_XTS_CIPHER_H_
