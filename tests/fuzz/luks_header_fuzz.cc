// Fuzzes the LUKS header facts volcrypt reads from a volume's first bytes,
// which whoever can write the volume (a guest, a restored backup) controls:
//   luks::Inspect (libcryptsetup's load plus the facts volcrypt derives:
//   format, cipher, key sizes, payload offset, sector size, UUID, keyslot
//   KDFs) and luks::CopyHeaderRegion with its HeaderRegionBytes (volcrypt's
//   own reading of the LUKS1/LUKS2 binary header), on a volume made of the
//   input followed by zeros.
// LUKS2 binary headers carry a SHA-256 of the header and its JSON area;
// the target recomputes it (as a writer would), so that mutated JSON reaches
// libcryptsetup's JSON checks and volcrypt's reading of what they let pass,
// instead of stopping at the checksum.
// No passphrase is ever tried, so no KDF runs: an input costs a header load.
// Properties: a copied header region lies within the volume and matches the
// payload offset Inspect reports.
#include <openssl/evp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_check.h"
#include "volcrypt/luks.h"

namespace volcrypt {
namespace luks {
namespace {

// Large enough for the seeds' header regions (libcryptsetup refuses a device
// smaller than its keyslot areas: 1028 KiB for LUKS1 AES-128-XTS) and small,
// as CopyHeaderRegion copies up to the payload offset on every input.
// Sparse in memory: only the input is written.
constexpr uint64_t kVolumeBytes = (1 << 20) + (64 << 10);
// Inputs beyond this are skipped: the point is headers, not bulk copying.
constexpr size_t kMaxInputBytes = 1 << 20;

uint64_t BigEndian(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | p[i];
  return v;
}

// Rewrites the checksum of a LUKS2 binary header at `offset` of `volume`
// that names sha256, over its hdr_size bytes (binary header + JSON area)
// with the checksum field zeroed. Returns that hdr_size, or 0 if there is no
// such header.
uint64_t FixLuks2Checksum(std::vector<uint8_t>& volume, uint64_t offset) {
  constexpr char kMagic1[] = {'L', 'U', 'K', 'S', '\xba', '\xbe'};
  constexpr char kMagic2[] = {'S', 'K', 'U', 'L', '\xba', '\xbe'};
  constexpr size_t kChecksumAlg = 72, kChecksum = 448, kChecksumBytes = 64;
  if (offset + 4096 > volume.size()) return 0;
  uint8_t* h = volume.data() + offset;
  if ((std::memcmp(h, kMagic1, 6) != 0 && std::memcmp(h, kMagic2, 6) != 0) ||
      BigEndian(h + 6, 2) != 2 ||
      std::strncmp(reinterpret_cast<const char*>(h + kChecksumAlg), "sha256", 32) != 0) {
    return 0;
  }
  const uint64_t hdr_size = BigEndian(h + 8, 8);
  if (hdr_size < 4096 || hdr_size > volume.size() - offset) return 0;
  std::memset(h + kChecksum, 0, kChecksumBytes);
  unsigned int len = 0;
  FUZZ_CHECK(EVP_Digest(h, hdr_size, h + kChecksum, &len, EVP_sha256(), nullptr) == 1);
  return hdr_size;
}

void FuzzLuksHeader(const uint8_t* data, size_t size) {
  // The input, and room for the secondary LUKS2 header it may describe.
  std::vector<uint8_t> bytes(data, data + size);
  if (size >= 16 && BigEndian(data + 6, 2) == 2) {
    bytes.resize(static_cast<size_t>(
        std::clamp<uint64_t>(2 * BigEndian(data + 8, 8), size, kMaxInputBytes)));
  }
  const uint64_t hdr_size = FixLuks2Checksum(bytes, 0);
  if (hdr_size != 0) FixLuks2Checksum(bytes, hdr_size);

  absl::StatusOr<LuksHeaderImage> volume = LuksHeaderImage::Create(kVolumeBytes);
  FUZZ_CHECK(volume.ok());
  FUZZ_CHECK(bytes.empty() || volume->Write(0, bytes.data(), bytes.size()).ok());

  absl::StatusOr<LuksInfo> info = Inspect(volume->path());
  if (info.ok()) FUZZ_CHECK(info->device_bytes == kVolumeBytes);

  const VolumeReader read = [&](uint64_t offset, void* buf, size_t len) {
    return volume->Read(offset, buf, len);
  };
  absl::StatusOr<LuksHeaderImage> region = CopyHeaderRegion(read, kVolumeBytes);
  if (!region.ok()) return;
  FUZZ_CHECK(region->size() <= kVolumeBytes);
  if (info.ok()) FUZZ_CHECK(region->size() == info->payload_offset_bytes);
}

}  // namespace
}  // namespace luks
}  // namespace volcrypt

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > volcrypt::luks::kMaxInputBytes) return 0;
  volcrypt::luks::FuzzLuksHeader(data, size);
  return 0;
}
