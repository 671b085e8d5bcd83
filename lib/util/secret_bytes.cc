#include "volcrypt/secret_bytes.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace volcrypt {

namespace {

// Secret storage is whole pages of its own, so that madvise(MADV_DONTDUMP)
// and mlock() cover exactly secrets and nothing else: a core dump never
// holds key bytes, and they never reach swap where the process may lock
// memory (RLIMIT_MEMLOCK; best effort, the bytes are wiped either way).
// Setting up a mapping costs three system calls and a VMA each, so secrets
// of up to a page (nearly all: keys and passphrases are 32-128 bytes) take a
// page from chunks of kChunkPages set up at once; freed pages are wiped by
// SecretBytes and kept for the next secret. Larger secrets map their own.
class SecretPages {
 public:
  static SecretPages& Get() {
    static SecretPages* pages = new SecretPages();  // never destroyed
    return *pages;
  }

  // Returns zeroed storage of at least `size` bytes; sets *capacity and
  // *locked. Throws std::bad_alloc when memory is exhausted.
  uint8_t* Allocate(size_t size, size_t* capacity, bool* locked) {
    const size_t bytes = (size + page_ - 1) / page_ * page_;
    if (bytes == page_) {
      std::lock_guard<std::mutex> lock(mu_);
      if (free_.empty()) {
        bool chunk_locked = false;
        uint8_t* chunk = MapSecretPages(kChunkPages * page_, &chunk_locked);
        for (size_t i = kChunkPages; i > 0; --i) {
          free_.push_back({chunk + (i - 1) * page_, chunk_locked});
        }
      }
      const Page p = free_.back();
      free_.pop_back();
      *capacity = page_;
      *locked = p.locked;
      return p.data;
    }
    *capacity = bytes;
    return MapSecretPages(bytes, locked);
  }

  // Takes back storage from Allocate(), already wiped by the caller.
  void Release(uint8_t* data, size_t capacity, bool locked) {
    if (capacity == page_) {
      std::lock_guard<std::mutex> lock(mu_);
      free_.push_back({data, locked});
      return;
    }
    if (locked) munlock(data, capacity);
    munmap(data, capacity);
  }

 private:
  static constexpr size_t kChunkPages = 16;
  struct Page {
    uint8_t* data;
    bool locked;
  };

  SecretPages() : page_(static_cast<size_t>(sysconf(_SC_PAGESIZE))) {}

  static uint8_t* MapSecretPages(size_t bytes, bool* locked) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    // Fails only on kernels before 3.4, which volcrypt does not support.
    madvise(p, bytes, MADV_DONTDUMP);
    *locked = mlock(p, bytes) == 0;
    return static_cast<uint8_t*>(p);
  }

  const size_t page_;
  std::mutex mu_;
  std::vector<Page> free_;
};

}  // namespace

SecretBytes::SecretBytes(size_t size) {
  if (size == 0) return;
  data_ = SecretPages::Get().Allocate(size, &capacity_, &locked_);
  size_ = size;
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
  SecretPages::Get().Release(data_, capacity_, locked_);
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
