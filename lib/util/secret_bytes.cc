#include "volcrypt/secret_bytes.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace volcrypt {

SecretBytes::SecretBytes(size_t size) {
  if (size == 0) return;
  // calloc, not new[]: a failed lock must not leave an unwiped copy behind,
  // and the buffer never moves, so locking it once is enough.
  data_ = static_cast<uint8_t*>(std::calloc(size, 1));
  if (data_ == nullptr) throw std::bad_alloc();
  size_ = capacity_ = size;
  // Best effort: RLIMIT_MEMLOCK may forbid it; the bytes are still wiped.
  locked_ = mlock(data_, capacity_) == 0;
}

SecretBytes SecretBytes::CopyOf(const void* bytes, size_t size) {
  SecretBytes s(size);
  if (size != 0) std::memcpy(s.data_, bytes, size);
  return s;
}

absl::StatusOr<SecretBytes> SecretBytes::Random(size_t size) {
  SecretBytes s(size);
  if (size != 0 && RAND_priv_bytes(s.data_, static_cast<int>(size)) != 1) {
    return absl::InternalError("OpenSSL RAND_priv_bytes failed");
  }
  return s;
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)),
      locked_(std::exchange(other.locked_, false)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    locked_ = std::exchange(other.locked_, false);
  }
  return *this;
}

SecretBytes::~SecretBytes() { Release(); }

void SecretBytes::Release() {
  if (data_ == nullptr) return;
  OPENSSL_cleanse(data_, capacity_);
  if (locked_) munlock(data_, capacity_);
  std::free(data_);
  data_ = nullptr;
  size_ = capacity_ = 0;
  locked_ = false;
}

SecretBytes SecretBytes::Clone() const { return CopyOf(data_, size_); }

void SecretBytes::Truncate(size_t size) {
  if (size >= size_) return;
  OPENSSL_cleanse(data_ + size, size_ - size);
  size_ = size;
}

bool SecretBytes::Equals(const SecretBytes& other) const {
  if (size_ != other.size_) return false;
  return size_ == 0 || CRYPTO_memcmp(data_, other.data_, size_) == 0;
}

std::string SecretBytes::DebugString() const {
  return absl::StrCat("[redacted ", size_, " bytes]");
}

SecretBytes HexPassphrase(const SecretBytes& key) {
  static constexpr char kDigits[] = "0123456789abcdef";
  SecretBytes hex(key.size() * 2);
  for (size_t i = 0; i < key.size(); ++i) {
    hex.data()[2 * i] = static_cast<uint8_t>(kDigits[key.data()[i] >> 4]);
    hex.data()[2 * i + 1] = static_cast<uint8_t>(kDigits[key.data()[i] & 0xf]);
  }
  return hex;
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

}  // namespace

absl::StatusOr<SecretBytes> SecretFromHex(absl::string_view hex) {
  size_t begin = 0, end = hex.size();
  while (begin < end && IsAsciiSpace(hex[begin])) ++begin;
  while (end > begin && IsAsciiSpace(hex[end - 1])) --end;
  const size_t digits = end - begin;
  if (digits == 0) return absl::InvalidArgumentError("hex key is empty");
  if (digits % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("hex key has an odd number of digits (", digits, ")"));
  }
  SecretBytes out(digits / 2);
  for (size_t i = 0; i < digits; i += 2) {
    const int hi = HexValue(hex[begin + i]);
    const int lo = HexValue(hex[begin + i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "hex key has a non-hex character at position ",
          begin + i + (hi < 0 ? 0 : 1)));
    }
    out.data()[i / 2] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

}  // namespace volcrypt
