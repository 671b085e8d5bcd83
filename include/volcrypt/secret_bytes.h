// File: volcrypt/secret_bytes.h
// -----------------------------------------------------------------------------
// SecretBytes holds key material and passphrases. It is the only type in
// volcrypt that carries secret bytes: move-only, kept on pages of their own
// that core dumps leave out (MADV_DONTDUMP) and that are locked where the
// process may lock memory, wiped on destruction, and with no conversion to
// std::string and no stream output (its debug form is "[redacted N bytes]").
//
//   volcrypt::SecretBytes key = volcrypt::SecretBytes::Random(32).value();
//   volcrypt::SecretBytes pass = volcrypt::HexPassphrase(key);  // 64 hex chars
//   crypt_activate_by_passphrase(cd, nullptr, CRYPT_ANY_SLOT,
//                                pass.char_data(), pass.size(), 0);
#ifndef VOLCRYPT_SECRET_BYTES_H_
#define VOLCRYPT_SECRET_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace volcrypt {

class SecretBytes {
 public:
  // An empty secret.
  SecretBytes() = default;
  // `size` zero bytes, ready to be filled through data().
  explicit SecretBytes(size_t size);
  // A copy of `bytes`. The caller remains responsible for wiping its source.
  static SecretBytes CopyOf(const void* bytes, size_t size);
  // `size` bytes from OpenSSL's CSPRNG; Internal if the generator fails.
  static absl::StatusOr<SecretBytes> Random(size_t size);

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes();

  // An explicit copy, so that every duplication of a secret is visible.
  SecretBytes Clone() const;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  const char* char_data() const { return reinterpret_cast<const char*>(data_); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Keeps the first `size` bytes and wipes the rest (size <= size()).
  void Truncate(size_t size);

  // Constant-time comparison of contents.
  bool Equals(const SecretBytes& other) const;

  // "[redacted N bytes]": safe for logs and error messages.
  std::string DebugString() const;

 private:
  void Release();

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
  bool locked_ = false;
};

// Returns the lowercase hex of `key`: the passphrase OpenStack (os-brick,
// nova, cinder) derives from a key manager's key, and the one volcrypt uses
// for machine keys.
SecretBytes HexPassphrase(const SecretBytes& key);

// Parses hex (either case, surrounding ASCII whitespace ignored) into bytes.
// InvalidArgument names the offending position, never the text itself.
absl::StatusOr<SecretBytes> SecretFromHex(absl::string_view hex);

}  // namespace volcrypt

#endif  // VOLCRYPT_SECRET_BYTES_H_
