// `volcrypt keys migrate`: the fixed-key migration (volcrypt/key_migration.h)
// for operators: cinder's log lines on stderr, a progress line on a
// terminal, one line per item otherwise (JSON with --json), and a summary.
#ifndef VOLCRYPT_EXAMPLES_CLI_KEYS_MIGRATE_H_
#define VOLCRYPT_EXAMPLES_CLI_KEYS_MIGRATE_H_

#include "examples/cli/args.h"
#include "volcrypt/key_manager.h"
#include "volcrypt/volume_store.h"

namespace volcrypt_cli {

// `fixed` may be nullptr (no --fixed-key-file). Returns the exit code.
int KeysMigrate(const Args& args, volcrypt::VolumeStore& store,
                volcrypt::KeyManager* fixed, volcrypt::KeyManager& destination,
                const std::string& destination_name);

}  // namespace volcrypt_cli

#endif  // VOLCRYPT_EXAMPLES_CLI_KEYS_MIGRATE_H_
