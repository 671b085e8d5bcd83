#include "volcrypt/key_manager.h"

#include <openssl/rand.h>

#include <cstdio>

#include "absl/strings/str_cat.h"

namespace volcrypt {

KeyManager::~KeyManager() = default;

absl::StatusOr<NewKey> KeyManager::CreateKey(const KeyRequest& request) {
  if (request.bits < 128 || request.bits > 512 || request.bits % 8 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key length ", request.bits, " bits is not supported (128 to 512)"));
  }
  absl::StatusOr<SecretBytes> bytes =
      SecretBytes::Random(static_cast<size_t>(request.bits / 8));
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<std::string> id = StoreKey(*bytes, request);
  if (!id.ok()) return id.status();
  return NewKey{std::move(*id), std::move(*bytes)};
}

absl::Status KeyManager::AddConsumer(const std::string&, const KeyConsumer&) {
  return absl::OkStatus();
}

absl::Status KeyManager::RemoveConsumer(const std::string&,
                                        const KeyConsumer&) {
  return absl::OkStatus();
}

absl::Status KeyManager::GrantReadAccess(const std::string&, const std::string&) {
  return absl::OkStatus();
}

bool KeyManager::IsSharedKey(const std::string&) const { return false; }

absl::Status ValidateKeyId(const std::string& id) {
  bool ok = id.size() == 36;
  for (size_t i = 0; ok && i < id.size(); ++i) {
    const char c = id[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      ok = c == '-';
    } else {
      ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
    }
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("key id '", id, "' is not a UUID"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> NewUuid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof(b)) != 1) {
    return absl::InternalError("OpenSSL RAND_bytes failed");
  }
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof(out),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                "%02x%02x%02x%02x%02x%02x",
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
                b[10], b[11], b[12], b[13], b[14], b[15]);
  return std::string(out);
}

}  // namespace volcrypt
