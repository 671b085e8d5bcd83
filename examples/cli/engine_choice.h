// `volume create --engine auto` (the default): which engine and format a
// new volume gets on this host (volcrypt/engine_policy.h).
#ifndef VOLCRYPT_EXAMPLES_CLI_ENGINE_CHOICE_H_
#define VOLCRYPT_EXAMPLES_CLI_ENGINE_CHOICE_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "volcrypt/encryption_spec.h"
#include "volcrypt/volume_service.h"

namespace volcrypt_cli {

// The spec for `req` with its engine chosen by ChooseEngine. A live attach
// of an rbd volume asks libvirt at `connect` (default qemu:///system) what
// it can hot-plug; an unreachable libvirt counts as one that cannot (a
// warning says so), which keeps the volume attachable everywhere.
absl::StatusOr<volcrypt::EncryptionSpec> ChooseEngineForCli(
    const volcrypt::CreateVolumeRequest& req, bool format_given, bool live,
    const std::optional<std::string>& connect);

}  // namespace volcrypt_cli

#endif  // VOLCRYPT_EXAMPLES_CLI_ENGINE_CHOICE_H_
