// `volcrypt volume rekey ID`: a new key for one volume (VolumeService::
// RotateKey); the record as JSON on stdout, one error line on stderr.
#ifndef VOLCRYPT_EXAMPLES_CLI_VOLUME_REKEY_H_
#define VOLCRYPT_EXAMPLES_CLI_VOLUME_REKEY_H_

#include <string>

#include "volcrypt/volume_service.h"

namespace volcrypt_cli {

// Returns the exit code: 0, or 1 after one line on stderr.
int VolumeRekey(const std::string& id, volcrypt::VolumeService& service);

}  // namespace volcrypt_cli

#endif  // VOLCRYPT_EXAMPLES_CLI_VOLUME_REKEY_H_
