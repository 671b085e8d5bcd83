#include "lib/copy/xts_cipher.h"

#include <openssl/evp.h>

#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"

namespace volcrypt {

absl::StatusOr<XtsCipher> XtsCipher::Create(const SecretBytes& volume_key,
                                            uint32_t sector_size) {
  if (volume_key.size() != 32 && volume_key.size() != 64) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an AES-XTS volume key has 32 or 64 bytes, not ", volume_key.size()));
  }
  if (sector_size < 512 || sector_size > 4096 || (sector_size & (sector_size - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("encryption sector size ", sector_size, " is not 512 to 4096"));
  }
  return XtsCipher(volume_key.Clone(), sector_size);
}

absl::Status XtsCipher::Encrypt(uint8_t* buf, size_t len, uint64_t off) const {
  return Run(buf, len, off, true);
}

absl::Status XtsCipher::Decrypt(uint8_t* buf, size_t len, uint64_t off) const {
  return Run(buf, len, off, false);
}

absl::Status XtsCipher::Run(uint8_t* buf, size_t len, uint64_t off, bool encrypt) const {
  if (len % sector_size_ != 0 || off % sector_size_ != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "XTS on ", len, " bytes at ", off, ": not whole ", sector_size_, "-byte sectors"));
  }
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
  const EVP_CIPHER* cipher = key_.size() == 64 ? EVP_aes_256_xts() : EVP_aes_128_xts();
  // The key schedule once per call; each sector only sets its tweak.
  if (!ctx || EVP_CipherInit_ex(ctx.get(), cipher, nullptr, key_.data(), nullptr,
                                encrypt ? 1 : 0) != 1) {
    return absl::InternalError("OpenSSL: cannot set up AES-XTS");
  }
  uint8_t iv[16];
  for (size_t done = 0; done < len; done += sector_size_) {
    const uint64_t sector = (off + done) / 512;
    std::memset(iv, 0, sizeof(iv));
    for (int i = 0; i < 8; ++i) iv[i] = static_cast<uint8_t>(sector >> (8 * i));
    int out = 0;
    if (EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, nullptr, iv, -1) != 1 ||
        EVP_CipherUpdate(ctx.get(), buf + done, &out, buf + done,
                         static_cast<int>(sector_size_)) != 1) {
      return absl::InternalError("OpenSSL: AES-XTS failed");
    }
  }
  return absl::OkStatus();
}

}  // namespace volcrypt
