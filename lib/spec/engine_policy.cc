#include "volcrypt/engine_policy.h"

#include "absl/strings/str_cat.h"

namespace volcrypt {

EngineCapabilities CapabilitiesOfLibvirt(uint64_t libvirt_version) {
  EngineCapabilities caps;
  caps.librbd_live = libvirt_version >= kLibvirtLiveLibrbdVersion;
  return caps;
}

absl::StatusOr<EncryptionSpec> ChooseEngine(const EncryptionSpec& requested, bool rbd_volume,
                                            bool format_given, AttachMode mode,
                                            const EngineCapabilities& caps) {
  EncryptionSpec spec = requested;
  const bool xts = spec.cipher == "aes-xts-plain64";
  const bool librbd_attaches = mode == AttachMode::kLive ? caps.librbd_live : caps.librbd_cold;
  if (rbd_volume && xts && librbd_attaches) {
    spec.engine = EncryptionEngine::kLibrbd;
    if (!format_given) spec.format = LuksFormat::kLuks2;
    return spec;
  }
  if (format_given && spec.format == LuksFormat::kLuks2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "LUKS2 needs the librbd engine, which ",
        !rbd_volume ? "serves rbd volumes only"
        : !xts      ? "decrypts aes-xts-plain64 only"
                    : (mode == AttachMode::kLive
                           ? "this host's libvirt cannot hot-plug (attach cold, or use LUKS1)"
                           : "this host's QEMU cannot open")));
  }
  spec.engine = EncryptionEngine::kQemu;
  spec.format = LuksFormat::kLuks1;
  return spec;
}

}  // namespace volcrypt
