// Embedding example: create an encrypted file volume with the C++ API, check
// its passphrase and print its header facts. The key here is random and
// discarded (a control plane would keep it in a KeyManager).
//
//   encrypt_file_volume PATH SIZE [luks1|luks2]
#include <cstdio>
#include <string>

#include "volcrypt/luks.h"
#include "volcrypt/mapped_backend.h"
#include "volcrypt/size_rule.h"

int main(int argc, char** argv) {
  using namespace volcrypt;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s PATH SIZE [luks1|luks2]\n", argv[0]);
    return 2;
  }
  EncryptionSpec spec;
  if (argc > 3) {
    absl::StatusOr<LuksFormat> format = ParseLuksFormat(argv[3]);
    if (!format.ok()) {
      std::fprintf(stderr, "%s\n", std::string(format.status().message()).c_str());
      return 2;
    }
    spec.format = *format;
  }
  absl::StatusOr<uint64_t> usable = ParseSize(argv[2]);
  absl::StatusOr<uint64_t> raw =
      usable.ok() ? RawBytesForUsable(PayloadOffsetBytes(spec), *usable,
                                      spec.sector_size)
                  : usable;
  if (!raw.ok()) {
    std::fprintf(stderr, "%s\n", std::string(raw.status().message()).c_str());
    return 2;
  }

  // In a real control plane the key comes from a KeyManager.
  SecretBytes key = SecretBytes::Random(KeyManagerKeyBytes(spec)).value();
  SecretBytes passphrase = HexPassphrase(key);

  std::unique_ptr<BlockBackend> backend = NewMappedBackend();
  const VolumeLocation where = VolumeLocation::Path(argv[1]);
  absl::Status s = backend->Create(where, *raw);
  if (s.ok()) {
    absl::StatusOr<FirstUseResult> formatted =
        FormatOnFirstUse(*backend, where, spec, passphrase);
    s = formatted.status();
    if (!s.ok()) (void)backend->Delete(where);  // leave nothing half-made
  }
  if (!s.ok()) {
    std::fprintf(stderr, "create failed: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  absl::StatusOr<int> slot = luks::VerifyPassphrase(where.path, passphrase);
  absl::StatusOr<luks::LuksInfo> info = luks::Inspect(where.path);
  if (!slot.ok() || !info.ok()) {
    std::fprintf(stderr, "verify failed\n");
    return 1;
  }
  std::printf("created %s: %s, %s, AES-%d, payload at %llu, %llu usable bytes, "
              "keyslot %d unlocks\n",
              where.path.c_str(), std::string(LuksFormatName(info->format)).c_str(),
              info->cipher.c_str(), info->key_bits,
              static_cast<unsigned long long>(info->payload_offset_bytes),
              static_cast<unsigned long long>(info->payload_bytes), *slot);
  return 0;
}
