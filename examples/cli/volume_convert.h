// `volcrypt volume encrypt ID ...` and `volcrypt volume reencrypt ID ...`:
// copy-conversion of one volume (VolumeService::ConvertVolume) to
//   --path P | --pool P --image I  [--format luks1|luks2] [--engine qemu|librbd]
//   [--key-size BITS] [--sector-size BYTES] [--keep-source] [--json]
// A progress line on a terminal's stderr; with --json, progress events as
// JSON lines on stdout ({"done_bytes":N,"total_bytes":N}, at most one a
// second), then the record as JSON, as without it.
#ifndef VOLCRYPT_EXAMPLES_CLI_VOLUME_CONVERT_H_
#define VOLCRYPT_EXAMPLES_CLI_VOLUME_CONVERT_H_

#include <string>

#include "examples/cli/args.h"
#include "volcrypt/volume_service.h"

namespace volcrypt_cli {

// `verb` is "encrypt" or "reencrypt". Returns the exit code: 0; 1 after one
// line on stderr; 2 for a usage error.
int VolumeConvert(const Args& args, const std::string& verb, const std::string& id,
                  volcrypt::VolumeService& service);

}  // namespace volcrypt_cli

#endif  // VOLCRYPT_EXAMPLES_CLI_VOLUME_CONVERT_H_
