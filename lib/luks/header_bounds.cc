#include "lib/luks/header_bounds.h"

#include <cerrno>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace luks {
namespace {

constexpr uint64_t kSector = 512;

uint64_t BigEndian(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | p[i];
  return v;
}

absl::Status TooLarge(const std::string& what, uint64_t value, uint64_t max) {
  return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                    absl::StrCat("LUKS header ", what, " is ", value,
                                 ", more than the ", max,
                                 " volcrypt accepts"));
}

// LUKS1 phdr layout (cryptsetup's docs/on-disk-format.pdf): key-bytes at
// 108, mk-digest-iter at 164, then 8 keyslots of 48 bytes from 208: active,
// iterations, salt[32], key-material-offset (sectors), stripes.
constexpr uint32_t kLuks1SlotActive = 0x00AC71F3;
constexpr int kLuks1Slots = 8;
constexpr uint64_t kLuks1Stripes = 4000;  // the only value cryptsetup loads
constexpr uint64_t kLuks1MaxKeyBytes = 64;

}  // namespace

absl::StatusOr<uint64_t> Luks1HeaderEnd(const uint8_t* hdr) {
  const uint64_t key_bytes = BigEndian(hdr + 108, 4);
  if (key_bytes > kLuks1MaxKeyBytes) {
    return TooLarge("key size (bytes)", key_bytes, kLuks1MaxKeyBytes);
  }
  const uint64_t digest_iterations = BigEndian(hdr + 164, 4);
  if (digest_iterations > kMaxDigestIterations) {
    return TooLarge("digest iteration count", digest_iterations,
                    kMaxDigestIterations);
  }
  uint64_t end = 0;
  for (int slot = 0; slot < kLuks1Slots; ++slot) {
    const uint8_t* ks = hdr + 208 + 48 * slot;
    const uint64_t stripes = BigEndian(ks + 44, 4);
    if (stripes > kLuks1Stripes) {
      return TooLarge(absl::StrCat("keyslot ", slot, " stripe count"), stripes,
                      kLuks1Stripes);
    }
    const uint64_t area = (key_bytes * stripes + kSector - 1) / kSector * kSector;
    const uint64_t slot_end = BigEndian(ks + 40, 4) * kSector + area;
    if (slot_end > kMaxHeaderBytes) {
      return TooLarge(absl::StrCat("keyslot ", slot, " end (bytes)"), slot_end,
                      kMaxHeaderBytes);
    }
    if (slot_end > end) end = slot_end;
    if (BigEndian(ks, 4) != kLuks1SlotActive) continue;
    const uint64_t iterations = BigEndian(ks + 4, 4);
    if (iterations > kMaxPbkdf2Iterations) {
      return TooLarge(absl::StrCat("keyslot ", slot, " iteration count"),
                      iterations, kMaxPbkdf2Iterations);
    }
  }
  return end;
}

absl::StatusOr<uint64_t> Luks2HeaderEnd(crypt_device* cd) {
  uint64_t metadata = 0, keyslots = 0;
  if (crypt_get_metadata_size(cd, &metadata, &keyslots) != 0) {
    return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                      "LUKS2 header sizes are unreadable");
  }
  const uint64_t end = 2 * metadata + keyslots;
  if (end > kMaxHeaderBytes) {
    return TooLarge("size (metadata and keyslot area, bytes)", end,
                    kMaxHeaderBytes);
  }
  const char* text = nullptr;
  if (crypt_dump_json(cd, &text, 0) != 0 || text == nullptr) {
    return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                      "LUKS2 metadata is unreadable");
  }
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object()) {
    return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                      "LUKS2 metadata is not a JSON object");
  }
  auto number = [](const nlohmann::json& j, const char* key) -> uint64_t {
    auto it = j.find(key);
    return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
  };
  if (auto slots = json.find("keyslots"); slots != json.end() && slots->is_object()) {
    for (const auto& [id, slot] : slots->items()) {
      auto kdf = slot.find("kdf");
      if (kdf == slot.end() || !kdf->is_object()) continue;
      const std::string name = absl::StrCat("keyslot ", id);
      if (uint64_t n = number(*kdf, "iterations"); n > kMaxPbkdf2Iterations) {
        return TooLarge(name + " iteration count", n, kMaxPbkdf2Iterations);
      }
      if (uint64_t n = number(*kdf, "time"); n > kMaxArgon2Time) {
        return TooLarge(name + " argon2 time cost", n, kMaxArgon2Time);
      }
      if (uint64_t n = number(*kdf, "memory"); n > kMaxArgon2MemoryKiB) {
        return TooLarge(name + " argon2 memory (KiB)", n, kMaxArgon2MemoryKiB);
      }
    }
  }
  if (auto digests = json.find("digests"); digests != json.end() && digests->is_object()) {
    for (const auto& [id, digest] : digests->items()) {
      if (uint64_t n = number(digest, "iterations"); n > kMaxDigestIterations) {
        return TooLarge(absl::StrCat("digest ", id, " iteration count"), n,
                        kMaxDigestIterations);
      }
    }
  }
  return end;
}

}  // namespace luks
}  // namespace volcrypt
