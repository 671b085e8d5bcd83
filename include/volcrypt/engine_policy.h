// Which engine decrypts a new volume when the caller asks for "auto": the
// fastest one this host's libvirt and QEMU can attach the way the caller
// will attach it. Measured (docs/performance.md, data path): librbd's
// encryption with LUKS2 and 4096-byte sectors reads at ~77% of raw rbd,
// QEMU's own luks driver over rbd at ~26% (it decrypts on its main thread
// through nettle, one AES block per call).
//
//   EngineCapabilities caps = attacher->EngineCapabilities();
//   absl::StatusOr<EncryptionSpec> spec = ChooseEngine(
//       requested, /*rbd_volume=*/true, /*format_given=*/false,
//       AttachMode::kLive, caps);
#ifndef VOLCRYPT_ENGINE_POLICY_H_
#define VOLCRYPT_ENGINE_POLICY_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "volcrypt/encryption_spec.h"

namespace volcrypt {

// What the host's libvirt and QEMU can attach.
struct EngineCapabilities {
  // libvirt hot-plugs a disk with <encryption engine='librbd'> and hands
  // QEMU its secret (libvirt 9.0 does not: QEMU is never given it).
  bool librbd_live = false;
  // QEMU's rbd driver has encrypt.* (QEMU >= 6.1 on librbd >= 16.1), so a
  // domain started with such a disk opens it. True on every stack volcrypt
  // builds on (Debian 12: QEMU 7.2, librbd 16.2).
  bool librbd_cold = true;
};

// How the caller will attach the volume: hot-plugged into a running domain
// (live), or in the persistent config before the domain starts (cold).
enum class AttachMode { kLive, kCold };

// libvirt's version as virConnectGetLibVersion returns it (major * 1000000
// + minor * 1000 + release) -> what it can attach. libvirt's domain
// capabilities say nothing about encryption engines, so the one thing that
// can be probed short of hot-plugging a disk into a live domain is the
// version: 11.3 is the lowest release verified to
// hot-plug a librbd-engine disk, 9.0 (Debian 12) is verified not to.
// Releases in between count as unable until verified.
EngineCapabilities CapabilitiesOfLibvirt(uint64_t libvirt_version);
constexpr uint64_t kLibvirtLiveLibrbdVersion = 11003000;

// The spec a create should use when its caller asked for the engine to be
// chosen. Files and block devices: QEMU's engine and LUKS1 (QEMU's luks
// driver opens no LUKS2, and librbd serves rbd only). rbd volumes with
// AES-XTS: librbd's engine when `caps` lets it attach as `mode` asks, with
// LUKS2 (and its 4096-byte sectors) unless `format_given` pinned the
// format; otherwise QEMU's engine and LUKS1. InvalidArgument when the
// caller pinned LUKS2 and no engine that can attach it as asked exists.
absl::StatusOr<EncryptionSpec> ChooseEngine(const EncryptionSpec& requested, bool rbd_volume,
                                            bool format_given, AttachMode mode,
                                            const EngineCapabilities& caps);

}  // namespace volcrypt

#endif  // VOLCRYPT_ENGINE_POLICY_H_
