// JSON forms of volcrypt records and LUKS header facts for the CLI, with
// cinder's field names where cinder has the field (id, status, host,
// encrypted, encryption_key_id, user_id, project_id, created_at, ...).
#ifndef VOLCRYPT_EXAMPLES_CLI_JSON_OUTPUT_H_
#define VOLCRYPT_EXAMPLES_CLI_JSON_OUTPUT_H_

#include <nlohmann/json.hpp>

#include "volcrypt/luks.h"
#include "volcrypt/volume_store.h"

namespace volcrypt_cli {

nlohmann::json VolumeJson(const volcrypt::VolumeRecord& v);
nlohmann::json LuksInfoJson(const volcrypt::luks::LuksInfo& info);

}  // namespace volcrypt_cli

#endif  // VOLCRYPT_EXAMPLES_CLI_JSON_OUTPUT_H_
