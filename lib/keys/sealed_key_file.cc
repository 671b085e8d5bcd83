#include "lib/keys/sealed_key_file.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace volcrypt {
namespace {

constexpr char kMagic[] = "VOLCRYPT-KEY-1\n";
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

CipherCtx NewCtx() { return CipherCtx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free); }

absl::Status Corrupt(const std::string& why) {
  return absl::DataLossError(absl::StrCat("key file ", why));
}

std::string HeaderText(const SealedKeyHeader& h) {
  return absl::StrCat(kMagic, "id=", h.id, "\nname=", h.name,
                      "\nalgorithm=", h.algorithm, "\nbits=", h.bits, "\n\n");
}

}  // namespace

absl::Status ValidateKeyName(const std::string& name) {
  if (name.empty() || name.size() > 255) {
    return absl::InvalidArgumentError("key name must be 1 to 255 bytes");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          "key name must not hold control characters");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SealKey(const SealedKeyHeader& header,
                                    const SecretBytes& key,
                                    const SecretBytes& master_key) {
  const std::string aad = HeaderText(header);
  unsigned char nonce[kNonceBytes];
  if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
    return absl::InternalError("OpenSSL RAND_bytes failed");
  }
  std::string out = aad;
  out.append(reinterpret_cast<char*>(nonce), sizeof(nonce));
  const size_t sealed_at = out.size();
  out.resize(sealed_at + key.size() + kTagBytes);
  auto* sealed = reinterpret_cast<unsigned char*>(&out[sealed_at]);

  CipherCtx ctx = NewCtx();
  int len = 0;
  bool ok = ctx != nullptr &&
            EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                               master_key.data(), nonce) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), sealed, &len, key.data(),
                              static_cast<int>(key.size())) == 1 &&
            EVP_EncryptFinal_ex(ctx.get(), sealed + len, &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                                sealed + key.size()) == 1;
  if (!ok) return absl::InternalError("AES-256-GCM sealing failed");
  return out;
}

absl::StatusOr<SealedKeyHeader> ParseSealedKeyHeader(const std::string& file) {
  if (file.compare(0, sizeof(kMagic) - 1, kMagic) != 0) {
    return Corrupt("is not a volcrypt key file (no VOLCRYPT-KEY-1 magic)");
  }
  const size_t end = file.find("\n\n");
  if (end == std::string::npos) return Corrupt("header is truncated");
  SealedKeyHeader h;
  const std::string fields =
      file.substr(sizeof(kMagic) - 1, end - (sizeof(kMagic) - 1));
  for (absl::string_view line : absl::StrSplit(fields, '\n')) {
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) return Corrupt("header line is malformed");
    const absl::string_view k = line.substr(0, eq), v = line.substr(eq + 1);
    if (k == "id") h.id = std::string(v);
    else if (k == "name") h.name = std::string(v);
    else if (k == "algorithm") h.algorithm = std::string(v);
    else if (k == "bits" && !absl::SimpleAtoi(v, &h.bits)) return Corrupt("bits is not a number");
  }
  if (h.id.empty() || h.bits <= 0 || h.bits % 8 != 0) {
    return Corrupt("header lacks an id or a valid bit length");
  }
  const size_t body = end + 2;
  if (file.size() != body + kNonceBytes + static_cast<size_t>(h.bits / 8) + kTagBytes) {
    return Corrupt(absl::StrCat("for ", h.id, " is truncated or padded"));
  }
  return h;
}

absl::StatusOr<SecretBytes> UnsealKey(const std::string& file,
                                      const std::string& expected_id,
                                      const SecretBytes& master_key) {
  absl::StatusOr<SealedKeyHeader> h = ParseSealedKeyHeader(file);
  if (!h.ok()) return h.status();
  if (h->id != expected_id) {
    return Corrupt(absl::StrCat("for ", expected_id, " names another key (",
                                h->id, ")"));
  }
  const size_t aad_len = file.find("\n\n") + 2;
  const auto* nonce = reinterpret_cast<const unsigned char*>(&file[aad_len]);
  const auto* sealed = nonce + kNonceBytes;
  const size_t key_len = static_cast<size_t>(h->bits / 8);
  SecretBytes key(key_len);

  CipherCtx ctx = NewCtx();
  int len = 0;
  unsigned char tag[kTagBytes];
  std::copy(sealed + key_len, sealed + key_len + kTagBytes, tag);
  bool ok = ctx != nullptr &&
            EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                               master_key.data(), nonce) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(file.data()),
                              static_cast<int>(aad_len)) == 1 &&
            EVP_DecryptUpdate(ctx.get(), key.data(), &len, sealed,
                              static_cast<int>(key_len)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes,
                                tag) == 1 &&
            EVP_DecryptFinal_ex(ctx.get(), key.data() + len, &len) == 1;
  if (!ok) {
    return Corrupt(absl::StrCat("for ", expected_id,
                                " fails authentication (corrupted, or sealed "
                                "under another master key)"));
  }
  return key;
}

}  // namespace volcrypt
