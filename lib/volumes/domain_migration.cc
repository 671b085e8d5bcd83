// MigrateDomain: prepare, libvirt's live migration, finish; abort when the
// migration fails (volcrypt/migration.h has what each step leaves).
#include "absl/strings/str_cat.h"
#include "lib/attach/migration.h"
#include "lib/util/status_macros.h"
#include "lib/volumes/flow_support.h"
#include "volcrypt/migration.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {

absl::StatusOr<MigrationPlan> MigrateDomain(VolumeService& service, Attacher& destination,
                                            const DomainMigrationOptions& options) {
  MigrationRequest request;
  request.domain = options.domain;
  request.destination = &destination;
  request.destination_host = options.destination_host;
  if (request.destination_host.empty()) {
    VOLCRYPT_ASSIGN_OR_RETURN(request.destination_host,
                              LibvirtHostName(options.destination_uri));
  }
  VOLCRYPT_ASSIGN_OR_RETURN(MigrationPlan plan, service.PrepareMigration(request));
  LiveMigrationRequest live;
  live.domain = options.domain;
  live.source_uri = options.source_uri;
  live.destination_uri = options.destination_uri;
  live.migrate_uri = options.migrate_uri;
  live.unsafe = plan.files;
  absl::Status moved = MigrateDomainLive(live);
  if (!moved.ok()) {
    // libvirt left the domain on the source: undo the prepare.
    absl::Status undo = service.AbortMigration(request);
    if (!undo.ok()) {
      return flows::Annotate(moved, absl::StrCat("(undo incomplete, left for reconcile: ",
                                                 undo.message(), ")"));
    }
    return moved;
  }
  VOLCRYPT_RETURN_IF_ERROR(service.FinishMigration(request));
  return plan;
}

}  // namespace volcrypt
