#include "examples/cli/volume_rekey.h"

#include "examples/cli/args.h"

#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "volcrypt/json.h"

namespace volcrypt_cli {

int VolumeRekey(const std::string& id, volcrypt::VolumeService& service) {
  absl::StatusOr<volcrypt::VolumeRecord> v = service.RotateKey(id);
  if (!v.ok()) {
    // The library's messages are one line and quote outside text already;
    // escaping again keeps that true of any message.
    std::fprintf(stderr, "volcrypt: volume rekey %s: %s\n",
                 OneLineText(id, 64).c_str(),
                 OneLineText(std::string(v.status().message()), 240).c_str());
    return 1;
  }
  std::cout << volcrypt::VolumeToJson(*v) << std::endl;
  return 0;
}

}  // namespace volcrypt_cli
