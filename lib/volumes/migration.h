// The volcrypt half of a live migration (volcrypt/migration.h has the
// steps and what a kill after each leaves): the secrets on the destination,
// the records, and Reconcile's part for 'migrating'.
#ifndef VOLCRYPT_LIB_VOLUMES_MIGRATION_H_
#define VOLCRYPT_LIB_VOLUMES_MIGRATION_H_

#include <cstdint>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/volumes/flow_support.h"
#include "volcrypt/migration.h"

namespace volcrypt {
namespace flows {

absl::StatusOr<MigrationPlan> PrepareMigration(const FlowContext& ctx,
                                               const MigrationRequest& request);
absl::Status FinishMigration(const FlowContext& ctx, const MigrationRequest& request);
absl::Status AbortMigration(const FlowContext& ctx, const MigrationRequest& request);

// For every volume left 'migrating' (on any host) whose last update is
// before `cutoff`: if this host's libvirt has its domain (running or
// defined), the records become this host's, 'in-use'; if not, this host's
// secret for it goes unless a domain uses it, and the records wait for the
// host that has the domain. Returns how many volumes it acted on.
absl::StatusOr<int> ReconcileMigrations(const FlowContext& ctx, int64_t cutoff);

// The secrets of volumes 'migrating' (on any host): the destination's
// twin of each must survive ReconcileLibvirt until the move ends.
absl::StatusOr<std::set<std::string>> MigratingSecrets(const FlowContext& ctx);

}  // namespace flows
}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_VOLUMES_MIGRATION_H_
