#include "lib/luks/luks1_writer.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/strings/str_format.h"
#include "lib/util/status_macros.h"
#include "volcrypt/size_rule.h"

namespace volcrypt {
namespace luks {
namespace {

constexpr size_t kSector = 512;
constexpr size_t kKeyBytes = 64;        // aes-xts-plain64, AES-256
constexpr uint32_t kStripes = 4000;     // LUKS_STRIPES
constexpr uint32_t kIterations = 1000;  // the LUKS minimum, keyslot and digest
constexpr size_t kSalt = 32;
constexpr size_t kDigest = 20;
constexpr uint32_t kSlotActive = 0x00AC71F3;
constexpr uint32_t kSlotDisabled = 0x0000DEAD;
constexpr int kSlots = 8;
// Key material: 64 * 4000 bytes = 500 sectors, each slot 4 KiB aligned as
// libcryptsetup aligns them (LUKS_ALIGN_KEYSLOTS): 504 sectors apart from 8.
constexpr uint32_t kMaterialSectors = kKeyBytes * kStripes / kSector;
constexpr uint32_t kSlotStride = (kMaterialSectors + 7) / 8 * 8;
constexpr uint32_t kFirstSlot = 8;

void Put32(uint8_t* p, uint32_t v) {
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

absl::Status Random(void* buf, size_t len, bool secret) {
  const int n = static_cast<int>(len);
  const int ok = secret ? RAND_priv_bytes(static_cast<unsigned char*>(buf), n)
                        : RAND_bytes(static_cast<unsigned char*>(buf), n);
  return ok == 1 ? absl::OkStatus() : absl::InternalError("OpenSSL's DRBG failed");
}

absl::Status Pbkdf2(const uint8_t* pass, size_t pass_len, const uint8_t* salt, uint8_t* out,
                    size_t out_len) {
  if (PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(pass), static_cast<int>(pass_len), salt,
                        kSalt, kIterations, EVP_sha256(), static_cast<int>(out_len),
                        out) != 1) {
    return absl::InternalError("PBKDF2-SHA256 failed");
  }
  return absl::OkStatus();
}

// The anti-forensic diffuser (LUKS1 spec, AF_split): each 32-byte block i
// of the 64-byte stripe becomes SHA-256(be32(i) || block).
void Diffuse(uint8_t* block) {
  for (uint32_t i = 0; i < kKeyBytes / 32; ++i) {
    uint8_t iv[4];
    Put32(iv, i);
    uint8_t out[32];
    unsigned int len = 0;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    EVP_DigestUpdate(ctx, iv, 4);
    EVP_DigestUpdate(ctx, block + 32 * i, 32);
    EVP_DigestFinal_ex(ctx, out, &len);
    EVP_MD_CTX_free(ctx);
    std::memcpy(block + 32 * i, out, 32);
  }
}

// AF-splits `key` into `out` (kStripes stripes): random stripes, the last
// one the key XOR the diffused XOR of all the others.
absl::Status AfSplit(const uint8_t* key, uint8_t* out) {
  VOLCRYPT_RETURN_IF_ERROR(Random(out, kKeyBytes * (kStripes - 1), /*secret=*/true));
  uint8_t acc[kKeyBytes] = {};
  for (uint32_t s = 0; s + 1 < kStripes; ++s) {
    for (size_t j = 0; j < kKeyBytes; ++j) acc[j] ^= out[s * kKeyBytes + j];
    Diffuse(acc);
  }
  uint8_t* last = out + (kStripes - 1) * kKeyBytes;
  for (size_t j = 0; j < kKeyBytes; ++j) last[j] = acc[j] ^ key[j];
  OPENSSL_cleanse(acc, sizeof(acc));
  return absl::OkStatus();
}

// aes-xts-plain64 over `len` bytes in 512-byte sectors numbered from 0, as
// LUKS1 encrypts key material.
absl::Status EncryptXts(const uint8_t* key, uint8_t* buf, size_t len) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return absl::InternalError("EVP_CIPHER_CTX_new failed");
  bool ok = EVP_EncryptInit_ex(ctx, EVP_aes_256_xts(), nullptr, key, nullptr) == 1;
  for (size_t off = 0; ok && off < len; off += kSector) {
    uint8_t iv[16] = {};
    const uint64_t sector = off / kSector;
    for (int b = 0; b < 8; ++b) iv[b] = static_cast<uint8_t>(sector >> (8 * b));
    int out_len = 0;
    ok = EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, iv) == 1 &&
         EVP_EncryptUpdate(ctx, buf + off, &out_len, buf + off, kSector) == 1;
  }
  EVP_CIPHER_CTX_free(ctx);
  return ok ? absl::OkStatus() : absl::InternalError("aes-xts-plain64 failed");
}

absl::StatusOr<std::string> NewUuid() {
  uint8_t u[16];
  VOLCRYPT_RETURN_IF_ERROR(Random(u, sizeof(u), false));
  u[6] = (u[6] & 0x0f) | 0x40;
  u[8] = (u[8] & 0x3f) | 0x80;
  return absl::StrFormat("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                         u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10],
                         u[11], u[12], u[13], u[14], u[15]);
}

}  // namespace

bool OwnLuks1WriterHandles(const EncryptionSpec& spec) {
  return spec.format == LuksFormat::kLuks1 && spec.kdf == KdfPolicy::kMachineKey &&
         CipherName(spec) == "aes" && CipherMode(spec) == "xts-plain64" &&
         VolumeKeyBytes(spec) == kKeyBytes && EffectiveSectorSize(spec) == kSector;
}

absl::Status WriteLuks1Image(const EncryptionSpec& spec, const SecretBytes& passphrase,
                             LuksHeaderImage& image) {
  if (!OwnLuks1WriterHandles(spec)) {
    return absl::InvalidArgumentError("the LUKS1 writer handles aes-xts-plain64 512-bit only");
  }
  const uint64_t payload = PayloadOffsetBytes(spec);
  static_assert((kFirstSlot + kSlots * kSlotStride) * kSector <= kLuks1PayloadOffsetBytes);
  // Everything after the phdr: random keyslot areas (libcryptsetup fills
  // every area, used or not, so none stands out), keyslot 0's material.
  const size_t area = (kFirstSlot + kSlots * kSlotStride) * kSector;
  std::vector<uint8_t> body(area - kFirstSlot * kSector);
  VOLCRYPT_RETURN_IF_ERROR(Random(body.data(), body.size(), false));

  SecretBytes key(kKeyBytes);
  VOLCRYPT_RETURN_IF_ERROR(Random(key.data(), kKeyBytes, true));
  uint8_t phdr[kFirstSlot * kSector] = {};
  std::memcpy(phdr, "LUKS\xba\xbe", 6);
  phdr[6] = 0;
  phdr[7] = 1;
  std::memcpy(phdr + 8, "aes", 3);
  std::memcpy(phdr + 40, "xts-plain64", 11);
  std::memcpy(phdr + 72, "sha256", 6);
  Put32(phdr + 104, static_cast<uint32_t>(payload / kSector));
  Put32(phdr + 108, kKeyBytes);
  uint8_t* digest_salt = phdr + 132;
  VOLCRYPT_RETURN_IF_ERROR(Random(digest_salt, kSalt, false));
  VOLCRYPT_RETURN_IF_ERROR(Pbkdf2(key.data(), kKeyBytes, digest_salt, phdr + 112, kDigest));
  Put32(phdr + 164, kIterations);
  VOLCRYPT_ASSIGN_OR_RETURN(std::string uuid, NewUuid());
  std::memcpy(phdr + 168, uuid.data(), uuid.size());
  for (int s = 0; s < kSlots; ++s) {
    uint8_t* slot = phdr + 208 + 48 * s;
    Put32(slot, s == 0 ? kSlotActive : kSlotDisabled);
    Put32(slot + 40, kFirstSlot + s * kSlotStride);
    Put32(slot + 44, kStripes);
  }
  // Keyslot 0: the key, AF-split, encrypted under PBKDF2(passphrase).
  uint8_t* slot0 = phdr + 208;
  Put32(slot0 + 4, kIterations);
  VOLCRYPT_RETURN_IF_ERROR(Random(slot0 + 8, kSalt, false));
  SecretBytes slot_key(kKeyBytes);
  VOLCRYPT_RETURN_IF_ERROR(
      Pbkdf2(passphrase.data(), passphrase.size(), slot0 + 8, slot_key.data(), kKeyBytes));
  uint8_t* material = body.data();  // keyslot 0 starts at sector kFirstSlot
  // Until it is encrypted the split material is the key in the clear: an
  // error in between wipes it rather than leave it in freed memory.
  absl::Status sealed = AfSplit(key.data(), material);
  if (sealed.ok()) sealed = EncryptXts(slot_key.data(), material, kMaterialSectors * kSector);
  if (!sealed.ok()) {
    OPENSSL_cleanse(material, kMaterialSectors * kSector);
    return sealed;
  }
  VOLCRYPT_RETURN_IF_ERROR(image.Write(kFirstSlot * kSector, body.data(), body.size()));
  // The phdr last: the image holds no header until it is whole.
  return image.Write(0, phdr, sizeof(phdr));
}

}  // namespace luks
}  // namespace volcrypt
