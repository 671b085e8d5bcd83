#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/luks/crypt_device.h"
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

}  // namespace

absl::StatusOr<LuksHeaderImage> CopyHeaderRegion(const VolumeReader& read,
                                                 uint64_t device_bytes) {
  constexpr uint64_t kFirst = 4096;
  if (device_bytes < kFirst) {
    return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                      "volume is smaller than a LUKS header");
  }
  uint8_t hdr[kFirst];
  VOLCRYPT_RETURN_IF_ERROR(read(0, hdr, sizeof(hdr)));
  if (std::memcmp(hdr, kLuksMagic, sizeof(kLuksMagic)) != 0) {
    return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                      "no LUKS header at offset 0");
  }
  // LUKS2 needs both binary headers and JSON areas (hdr_size each, at byte 8)
  // to tell where its payload starts; LUKS1 needs only the first sector.
  uint64_t probe_bytes = kFirst;
  if (BigEndian(hdr + 6, 2) == 2) {
    probe_bytes = std::min(device_bytes, 2 * BigEndian(hdr + 8, 8));
  }
  // As large as the volume (sparse: only what is written takes memory), so
  // that libcryptsetup's device-size checks see the real size.
  VOLCRYPT_ASSIGN_OR_RETURN(LuksHeaderImage probe,
                            LuksHeaderImage::Create(device_bytes));
  VOLCRYPT_RETURN_IF_ERROR(probe.Write(0, hdr, sizeof(hdr)));
  VOLCRYPT_RETURN_IF_ERROR(CopyBytes(read, probe, kFirst, probe_bytes));
  VOLCRYPT_ASSIGN_OR_RETURN(uint64_t region, HeaderRegionBytes(probe));
  if (region > device_bytes) {
    return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                      absl::StrCat("LUKS header says the payload starts at ",
                                   region, ", past the volume's end (",
                                   device_bytes, " bytes): truncated volume"));
  }
  VOLCRYPT_ASSIGN_OR_RETURN(LuksHeaderImage image,
                            LuksHeaderImage::Create(region));
  VOLCRYPT_RETURN_IF_ERROR(CopyBytes(read, image, 0, region));
  return image;
}

}  // namespace luks
}  // namespace volcrypt
