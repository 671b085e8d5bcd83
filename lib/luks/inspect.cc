#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/luks/crypt_device.h"
#include "lib/luks/header_bounds.h"
#include "lib/util/fd_io.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"
#include "volcrypt/luks.h"

namespace volcrypt {
namespace luks {
namespace {

constexpr uint64_t kSectorBytes = 512;
constexpr char kLuksMagic[] = {'L', 'U', 'K', 'S', '\xba', '\xbe'};

uint64_t BigEndian(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | p[i];
  return v;
}

std::vector<KeyslotInfo> ActiveKeyslots(const CryptDevice& dev) {
  std::vector<KeyslotInfo> slots;
  const int max = crypt_keyslot_max(crypt_get_type(dev.get()));
  for (int slot = 0; slot < max; ++slot) {
    const crypt_keyslot_info state = crypt_keyslot_status(dev.get(), slot);
    if (state != CRYPT_SLOT_ACTIVE && state != CRYPT_SLOT_ACTIVE_LAST) continue;
    KeyslotInfo info;
    info.slot = slot;
    crypt_pbkdf_type pbkdf = {};
    if (crypt_keyslot_get_pbkdf(dev.get(), slot, &pbkdf) == 0) {
      info.pbkdf = pbkdf.type != nullptr ? pbkdf.type : "";
      info.iterations = pbkdf.iterations;
    }
    slots.push_back(info);
  }
  return slots;
}

}  // namespace

absl::StatusOr<LuksInfo> Inspect(const std::string& path) {
  VOLCRYPT_ASSIGN_OR_RETURN(std::unique_ptr<CryptDevice> dev,
                            CryptDevice::Load(path));
  crypt_device* cd = dev->get();
  LuksInfo info;
  const char* type = crypt_get_type(cd);
  info.format = std::strcmp(type, CRYPT_LUKS2) == 0 ? LuksFormat::kLuks2
                                                     : LuksFormat::kLuks1;
  info.cipher = absl::StrCat(crypt_get_cipher(cd), "-",
                             crypt_get_cipher_mode(cd));
  info.volume_key_bits = static_cast<uint32_t>(crypt_get_volume_key_size(cd)) * 8;
  const bool xts = absl::string_view(crypt_get_cipher_mode(cd)).substr(0, 3) == "xts";
  info.key_bits = static_cast<int>(xts ? info.volume_key_bits / 2
                                       : info.volume_key_bits);
  info.payload_offset_bytes = crypt_get_data_offset(cd) * kSectorBytes;
  info.sector_size = static_cast<uint32_t>(crypt_get_sector_size(cd));
  if (info.sector_size == 0) info.sector_size = 512;
  const char* uuid = crypt_get_uuid(cd);
  info.uuid = uuid != nullptr ? uuid : "";
  info.keyslots = ActiveKeyslots(*dev);

  VOLCRYPT_ASSIGN_OR_RETURN(ScopedFd fd, OpenFile(path, O_RDONLY));
  VOLCRYPT_ASSIGN_OR_RETURN(info.device_bytes, DeviceBytes(fd.get(), path));
  if (info.device_bytes > info.payload_offset_bytes) {
    const uint64_t payload = info.device_bytes - info.payload_offset_bytes;
    info.payload_bytes = payload - payload % info.sector_size;
  }
  return info;
}

absl::StatusOr<uint64_t> HeaderRegionBytes(const LuksHeaderImage& first_bytes) {
  uint8_t hdr[4096];
  if (first_bytes.size() < sizeof(hdr)) {
    return absl::InvalidArgumentError(
        "fewer than 4096 bytes: not a LUKS header");
  }
  VOLCRYPT_RETURN_IF_ERROR(first_bytes.Read(0, hdr, sizeof(hdr)));
  if (std::memcmp(hdr, kLuksMagic, sizeof(kLuksMagic)) != 0) {
    return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                      "no LUKS magic at offset 0");
  }
  const uint64_t version = BigEndian(hdr + 6, 2);
  if (version == 1) {
    // LUKS1 phdr: payloadOffset (sectors) at byte 104.
    return BigEndian(hdr + 104, 4) * kSectorBytes;
  }
  if (version == 2) {
    // The data segment's offset lives in the JSON area; let libcryptsetup
    // read it from the bytes at hand (both binary headers and JSON areas).
    VOLCRYPT_ASSIGN_OR_RETURN(std::unique_ptr<CryptDevice> dev,
                              CryptDevice::Load(first_bytes.path()));
    return crypt_get_data_offset(dev->get()) * kSectorBytes;
  }
  return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                    absl::StrCat("LUKS version ", version, " is not known"));
}

}  // namespace luks
}  // namespace volcrypt

namespace volcrypt {
namespace luks {
namespace {

constexpr size_t kCopyChunkBytes = 1 << 20;

absl::Status CopyBytes(const VolumeReader& read, LuksHeaderImage& image,
                       uint64_t begin, uint64_t end) {
  std::vector<uint8_t> buf(kCopyChunkBytes);
  for (uint64_t off = begin; off < end; off += kCopyChunkBytes) {
    const size_t len =
        static_cast<size_t>(std::min<uint64_t>(kCopyChunkBytes, end - off));
    VOLCRYPT_RETURN_IF_ERROR(read(off, buf.data(), len));
    VOLCRYPT_RETURN_IF_ERROR(image.Write(off, buf.data(), len));
  }
  return absl::OkStatus();
}

absl::Status Truncated(uint64_t have, uint64_t needed) {
  return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                    absl::StrCat("truncated LUKS header (", have, " bytes, ",
                                 needed, " needed)"));
}

}  // namespace

absl::StatusOr<LuksHeaderImage> CopyHeaderRegion(const VolumeReader& read,
                                                 uint64_t device_bytes) {
  constexpr uint64_t kFirst = 4096;
  uint8_t hdr[kFirst] = {};
  const uint64_t first = std::min(device_bytes, kFirst);
  VOLCRYPT_RETURN_IF_ERROR(read(0, hdr, static_cast<size_t>(first)));
  if (first < sizeof(kLuksMagic) ||
      std::memcmp(hdr, kLuksMagic, sizeof(kLuksMagic)) != 0) {
    return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                      "no LUKS header at offset 0");
  }
  if (first < kFirst) return Truncated(device_bytes, kFirst);
  // Only the header proper (binary headers, JSON areas, keyslot areas) is
  // read, bounded by header_bounds.h whatever the header claims; the rest
  // of the region up to the payload is padding, left as holes.
  uint64_t header_end = 0;
  uint64_t region = 0;
  const uint64_t version = BigEndian(hdr + 6, 2);
  if (version == 1) {
    VOLCRYPT_ASSIGN_OR_RETURN(header_end, Luks1HeaderEnd(hdr));
    region = BigEndian(hdr + 104, 4) * kSectorBytes;
    if (header_end > device_bytes) return Truncated(device_bytes, header_end);
  } else if (version == 2) {
    // Both binary headers and JSON areas (hdr_size each, at byte 8) tell
    // libcryptsetup where the payload and the keyslots are.
    const uint64_t metadata = BigEndian(hdr + 8, 8);
    if (metadata < kMinLuks2MetadataBytes || metadata > kMaxLuks2MetadataBytes) {
      return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                        absl::StrCat("LUKS2 header size ", metadata,
                                     " is outside ", kMinLuks2MetadataBytes,
                                     "..", kMaxLuks2MetadataBytes));
    }
    if (2 * metadata > device_bytes) return Truncated(device_bytes, 2 * metadata);
    // As large as the volume (sparse: only what is written takes memory), so
    // that libcryptsetup's device-size checks see the real size.
    VOLCRYPT_ASSIGN_OR_RETURN(LuksHeaderImage probe,
                              LuksHeaderImage::Create(device_bytes));
    VOLCRYPT_RETURN_IF_ERROR(CopyBytes(read, probe, 0, 2 * metadata));
    VOLCRYPT_ASSIGN_OR_RETURN(std::unique_ptr<CryptDevice> dev,
                              CryptDevice::Load(probe.path()));
    VOLCRYPT_ASSIGN_OR_RETURN(header_end, Luks2HeaderEnd(dev->get()));
    region = crypt_get_data_offset(dev->get()) * kSectorBytes;
    if (header_end > device_bytes) return Truncated(device_bytes, header_end);
  } else {
    return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                      absl::StrCat("LUKS version ", version, " is not known"));
  }
  if (region > device_bytes) {
    return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                      absl::StrCat("LUKS header says the payload starts at ",
                                   region, ", past the volume's end (",
                                   device_bytes, " bytes): truncated volume"));
  }
  if (header_end > region) {
    return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                      absl::StrCat("LUKS keyslot area ends at ", header_end,
                                   ", past the payload's start at ", region));
  }
  VOLCRYPT_ASSIGN_OR_RETURN(LuksHeaderImage image,
                            LuksHeaderImage::Create(region));
  VOLCRYPT_RETURN_IF_ERROR(CopyBytes(read, image, 0, header_end));
  return image;
}

}  // namespace luks
}  // namespace volcrypt
