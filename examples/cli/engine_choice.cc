#include "examples/cli/engine_choice.h"

#include <iostream>
#include <memory>

#include "volcrypt/attacher.h"
#include "volcrypt/engine_policy.h"

namespace volcrypt_cli {

using volcrypt::AttachMode;
using volcrypt::BackendKind;
using volcrypt::EngineCapabilities;

absl::StatusOr<volcrypt::EncryptionSpec> ChooseEngineForCli(
    const volcrypt::CreateVolumeRequest& req, bool format_given, bool live,
    const std::optional<std::string>& connect) {
  const bool rbd = req.location.kind == BackendKind::kRbd;
  EngineCapabilities caps;
  // Only a live attach of an rbd volume depends on what libvirt can do.
  if (rbd && live) {
    const std::string uri = connect.value_or("qemu:///system");
    absl::StatusOr<std::unique_ptr<volcrypt::Attacher>> attacher =
        volcrypt::Attacher::Connect(uri);
    if (attacher.ok()) {
      caps = (*attacher)->ProbeEngines();
    } else {
      std::cerr << "volcrypt: warning: libvirt at " << uri
                << " is unreachable; choosing an engine any libvirt hot-plugs\n";
    }
  }
  return volcrypt::ChooseEngine(req.encryption, rbd, format_given,
                                live ? AttachMode::kLive : AttachMode::kCold, caps);
}

}  // namespace volcrypt_cli
