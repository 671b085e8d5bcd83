// File: volcrypt/migration.h
// -----------------------------------------------------------------------------
// Live migration of a domain whose disks are volcrypt volumes, with the
// keys read by volcrypt's own key-manager credentials: the destination
// never needs the tenant's access to the key manager (docs/design.md,
// "Live migration").
//
//   DomainMigrationOptions o;
//   o.domain = "instance-1";
//   o.source_uri = "qemu:///system";
//   o.destination_uri = "qemu+tls://compute-2/system";
//   absl::StatusOr<MigrationPlan> moved = MigrateDomain(*service, *dest, o);
//
// The steps, and what a failure or a kill after each one leaves:
//   1 PrepareMigration  each volume 'migrating' (attachment too), then its
//                       secret defined on the destination with the same
//                       UUID and value. A failure is undone by
//                       AbortMigration. A kill: records 'migrating', maybe
//                       secrets on the destination; Reconcile on each host
//                       gives the records to the host whose libvirt has the
//                       domain and removes the secrets of the other.
//   2 libvirt migrate   libvirt's promise: on failure the domain runs on the
//                       source and nothing of it is on the destination; then
//                       AbortMigration. A kill during it: as libvirt leaves
//                       it (the domain on one of the two), then as after 1.
//   3 FinishMigration   records moved to the destination host and 'in-use'
//                       (rows first), then the source's secrets undefined
//                       once no domain there uses them. A kill: records on
//                       the destination, secrets left on the source, which
//                       the source's Reconcile removes (no record explains
//                       them) - or still 'migrating', as after 1.
// Only storage both hosts see migrates: RBD images, and files on a path
// both hosts share (the caller asserts it; libvirt cannot check it, hence
// VIR_MIGRATE_UNSAFE). A block device (iSCSI, FC, LVM) may be another disk
// or none on the destination, so a domain with one is refused before
// anything changes.
#ifndef VOLCRYPT_MIGRATION_H_
#define VOLCRYPT_MIGRATION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace volcrypt {

class Attacher;
class VolumeService;

// The calls of one migration, on the source host's VolumeService (its
// attacher is the source libvirt).
struct MigrationRequest {
  std::string domain;              // name, as the attachments record it
  Attacher* destination = nullptr;  // the destination's libvirt; not owned
  std::string destination_host;    // the host name records will carry
};

// What PrepareMigration found and did.
struct MigrationPlan {
  std::vector<std::string> volume_ids;  // the domain's volcrypt volumes
  bool files = false;  // some are files (on a shared path): VIR_MIGRATE_UNSAFE
};

struct DomainMigrationOptions {
  std::string domain;
  std::string source_uri;       // the service's attacher's daemon
  std::string destination_uri;  // `destination`'s daemon
  // "" : the destination daemon's host name (virConnectGetHostname).
  std::string destination_host;
  std::string migrate_uri;      // "" : libvirt's choice
};

// PrepareMigration, the libvirt migration (live, persistent on the
// destination, undefined on the source), FinishMigration; AbortMigration
// when the migration fails. Returns what moved. `destination` is a libvirt
// connection to options.destination_uri.
absl::StatusOr<MigrationPlan> MigrateDomain(VolumeService& service, Attacher& destination,
                                            const DomainMigrationOptions& options);

}  // namespace volcrypt

#endif  // VOLCRYPT_MIGRATION_H_
