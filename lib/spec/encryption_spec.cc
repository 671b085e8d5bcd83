#include "volcrypt/encryption_spec.h"

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace volcrypt {
namespace {

constexpr char kXtsPlain64[] = "aes-xts-plain64";
constexpr char kCbcEssiv[] = "aes-cbc-essiv:sha256";

bool IsXts(const std::string& cipher) { return cipher == kXtsPlain64; }

}  // namespace

uint32_t EffectiveSectorSize(const EncryptionSpec& spec) {
  if (spec.sector_size != 0) return spec.sector_size;
  return spec.format == LuksFormat::kLuks2 ? 4096 : 512;
}

absl::Status ValidateSpec(const EncryptionSpec& spec) {
  if (spec.cipher != kXtsPlain64 && spec.cipher != kCbcEssiv) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "cipher '%s' is not supported (use %s or %s)", spec.cipher,
        kXtsPlain64, kCbcEssiv));
  }
  const bool key_ok = spec.key_bits == 128 || spec.key_bits == 256 ||
                      (spec.key_bits == 192 && !IsXts(spec.cipher));
  if (!key_ok) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "key size %d bits is not supported for cipher %s (use %s)",
        spec.key_bits, spec.cipher,
        IsXts(spec.cipher) ? "128 or 256" : "128, 192 or 256"));
  }
  const uint32_t s = EffectiveSectorSize(spec);
  if (spec.format == LuksFormat::kLuks1 && s != 512) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "sector size %u is not possible with LUKS1 (only 512)", s));
  }
  if (s < 512 || s > 4096 || (s & (s - 1)) != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "sector size %u is not supported (use 512, 1024, 2048 or 4096)", s));
  }
  return absl::OkStatus();
}

absl::Status ValidateEngine(const EncryptionSpec& spec, bool rbd_volume) {
  if (spec.engine == EncryptionEngine::kLibrbd && !rbd_volume) {
    return absl::InvalidArgumentError(
        "the librbd encryption engine only applies to rbd volumes");
  }
  if (spec.engine == EncryptionEngine::kQemu &&
      spec.format == LuksFormat::kLuks2) {
    return absl::InvalidArgumentError(
        "LUKS2 cannot be decrypted by QEMU's own LUKS driver (QEMU 7.2 opens "
        "LUKS1 only); use LUKS1, or the librbd engine on an rbd volume");
  }
  if (spec.engine == EncryptionEngine::kLibrbd && !IsXts(spec.cipher)) {
    return absl::InvalidArgumentError(
        "the librbd engine decrypts aes-xts-plain64 only");
  }
  return absl::OkStatus();
}

std::string CipherName(const EncryptionSpec& spec) {
  return spec.cipher.substr(0, spec.cipher.find('-'));
}

std::string CipherMode(const EncryptionSpec& spec) {
  return spec.cipher.substr(spec.cipher.find('-') + 1);
}

size_t VolumeKeyBytes(const EncryptionSpec& spec) {
  const size_t aes_bytes = static_cast<size_t>(spec.key_bits) / 8;
  return IsXts(spec.cipher) ? 2 * aes_bytes : aes_bytes;
}

size_t KeyManagerKeyBytes(const EncryptionSpec& spec) {
  return static_cast<size_t>(spec.key_bits) / 8;
}

absl::string_view LuksFormatName(LuksFormat format) {
  return format == LuksFormat::kLuks1 ? "luks1" : "luks2";
}

absl::StatusOr<LuksFormat> ParseLuksFormat(absl::string_view name) {
  if (name == "luks1" || name == "luks") return LuksFormat::kLuks1;
  if (name == "luks2") return LuksFormat::kLuks2;
  return absl::InvalidArgumentError(absl::StrCat(
      "LUKS format '", name, "' is not supported (use luks1 or luks2)"));
}

absl::string_view EncryptionEngineName(EncryptionEngine e) {
  return e == EncryptionEngine::kQemu ? "qemu" : "librbd";
}

absl::StatusOr<EncryptionEngine> ParseEncryptionEngine(absl::string_view name) {
  if (name == "qemu") return EncryptionEngine::kQemu;
  if (name == "librbd") return EncryptionEngine::kLibrbd;
  return absl::InvalidArgumentError(absl::StrCat(
      "encryption engine '", name, "' is not known (use qemu or librbd)"));
}

absl::string_view KdfPolicyName(KdfPolicy policy) {
  return policy == KdfPolicy::kMachineKey ? "machine-key" : "passphrase";
}

absl::StatusOr<KdfPolicy> ParseKdfPolicy(absl::string_view name) {
  if (name == "machine-key") return KdfPolicy::kMachineKey;
  if (name == "passphrase") return KdfPolicy::kPassphrase;
  return absl::InvalidArgumentError(absl::StrCat(
      "KDF policy '", name, "' is not known (use machine-key or passphrase)"));
}

namespace {

absl::Status ApplyProvider(const std::string& value, EncryptionSpec& spec) {
  // Legacy class paths still found in volume types created years ago.
  if (value == "luks" || value == "nova.volume.encryptors.luks.LuksEncryptor" ||
      value == "os_brick.encryptors.luks.LuksEncryptor") {
    spec.format = LuksFormat::kLuks1;
    return absl::OkStatus();
  }
  if (value == "luks2" || value == "os_brick.encryptors.luks.Luks2Encryptor") {
    spec.format = LuksFormat::kLuks2;
    return absl::OkStatus();
  }
  if (value == "plain" || value.find("CryptsetupEncryptor") !=
                              std::string::npos) {
    return absl::UnimplementedError(
        "provider 'plain' (dm-crypt without a LUKS header) is not supported: "
        "QEMU cannot decrypt it; use luks");
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "provider '", value, "' is not known (use luks or luks2)"));
}

absl::Status ApplyKeySize(const std::string& value, EncryptionSpec& spec) {
  int bits = 0;
  if (!absl::SimpleAtoi(value, &bits) || bits <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("key_size '", value, "' is not a positive number of bits"));
  }
  // 512 with XTS is cryptsetup's meaning (two AES-256 keys): AES-256-XTS.
  spec.key_bits = (bits == 512 && IsXts(spec.cipher)) ? 256 : bits;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<EncryptionSpec> ParseCinderSpec(
    const std::map<std::string, std::string>& specs) {
  EncryptionSpec spec;
  for (const auto& [key, value] : specs) {
    if (key == "provider") {
      absl::Status s = ApplyProvider(value, spec);
      if (!s.ok()) return s;
    } else if (key == "cipher") {
      spec.cipher = value;
    } else if (key == "control_location") {
      if (value == "back-end") {
        return absl::UnimplementedError(
            "control_location 'back-end' decrypts on the storage host; "
            "volcrypt decrypts in QEMU on the compute host (front-end)");
      }
      if (value != "front-end") {
        return absl::InvalidArgumentError(absl::StrCat(
            "control_location '", value, "' is not known (use front-end)"));
      }
    } else if (key != "key_size") {
      return absl::InvalidArgumentError(
          absl::StrCat("encryption spec key '", key,
                       "' is not known (provider, cipher, key_size, "
                       "control_location)"));
    }
  }
  // key_size last: its meaning depends on the cipher.
  auto key_size = specs.find("key_size");
  if (key_size != specs.end()) {
    absl::Status s = ApplyKeySize(key_size->second, spec);
    if (!s.ok()) return s;
  }
  absl::Status valid = ValidateSpec(spec);
  if (!valid.ok()) return valid;
  return spec;
}

}  // namespace volcrypt
