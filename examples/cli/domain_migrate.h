// `volcrypt domain migrate NAME --connect SRC --to DEST_URI [--to-host H]
// [--migrate-uri URI]`: moves a running domain and its volcrypt volumes live
// (volcrypt::MigrateDomain: prepare, libvirt's migration, finish; abort on
// failure). One JSON object on stdout, or one error line on stderr.
#ifndef VOLCRYPT_EXAMPLES_CLI_DOMAIN_MIGRATE_H_
#define VOLCRYPT_EXAMPLES_CLI_DOMAIN_MIGRATE_H_

#include <string>
#include <vector>

#include "examples/cli/args.h"
#include "volcrypt/volume_service.h"

namespace volcrypt_cli {

// Returns the exit code: 0; 1 after one line on stderr; 2 for bad usage.
int DomainMigrate(const Args& args, const std::vector<std::string>& words,
                  volcrypt::VolumeService& service);

}  // namespace volcrypt_cli

#endif  // VOLCRYPT_EXAMPLES_CLI_DOMAIN_MIGRATE_H_
