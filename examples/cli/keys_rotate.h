// `volcrypt keys rotate`: a new key for every volume of a host whose key is
// older than a cutoff (volcrypt/fleet_rotation.h), for operators: a progress
// line on a terminal, one line per item otherwise (JSON with --json), and a
// summary.
#ifndef VOLCRYPT_EXAMPLES_CLI_KEYS_ROTATE_H_
#define VOLCRYPT_EXAMPLES_CLI_KEYS_ROTATE_H_

#include "absl/status/statusor.h"
#include "examples/cli/args.h"
#include "volcrypt/fleet_rotation.h"

namespace volcrypt_cli {

// --host, --older-than DURATION (90d, 12h, 30m, 45s or seconds),
// --created-before UNIX_SECONDS, --dry-run, --max-errors; checked before
// anything is opened. Without either cutoff: keys made before now.
absl::StatusOr<volcrypt::FleetRotationOptions> RotationOptionsFrom(const Args& args);

// Runs the rotation; returns the exit code (1 if a volume failed).
int KeysRotate(const Args& args, volcrypt::FleetRotationOptions options,
               volcrypt::VolumeService& service, volcrypt::VolumeStore& store);

// keys migrate --rekey, after the migration: rotates every volume of the
// host whose key (in `destination`) holds the fixed key's bytes, so that no
// volume opens with the fixed key any more. Returns the exit code.
int RekeyOffFixedKey(const Args& args, volcrypt::VolumeService& service,
                     volcrypt::VolumeStore& store, volcrypt::KeyManager& destination,
                     const volcrypt::SecretBytes& fixed_key);

}  // namespace volcrypt_cli

#endif  // VOLCRYPT_EXAMPLES_CLI_KEYS_ROTATE_H_
