// `volcrypt keys migrate`: the fixed-key migration (volcrypt/key_migration.h)
// for operators: cinder's log lines on stderr, a progress line on a
// terminal, one line per item otherwise (JSON with --json), and a summary.
#ifndef VOLCRYPT_EXAMPLES_CLI_KEYS_MIGRATE_H_
#define VOLCRYPT_EXAMPLES_CLI_KEYS_MIGRATE_H_

#include "examples/cli/args.h"
#include "absl/status/statusor.h"
#include "volcrypt/key_manager.h"
#include "volcrypt/key_migration.h"
#include "volcrypt/volume_store.h"

namespace volcrypt_cli {

// The migration options of the command line (--host, --dry-run,
// --max-errors), checked before anything is opened.
absl::StatusOr<volcrypt::KeyMigrationOptions> MigrationOptionsFrom(const Args& args);

// Runs the migration; `fixed` may be nullptr (no --fixed-key-file). Returns
// the exit code.
int KeysMigrate(const Args& args, volcrypt::KeyMigrationOptions options,
                volcrypt::VolumeStore& store, volcrypt::KeyManager* fixed,
                volcrypt::KeyManager& destination);

}  // namespace volcrypt_cli

#endif  // VOLCRYPT_EXAMPLES_CLI_KEYS_MIGRATE_H_
