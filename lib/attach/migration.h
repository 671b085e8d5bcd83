// The libvirt half of a live migration: what Attacher does not do. One call
// moves a running domain between two libvirt daemons, the way `virsh migrate
// --live --persistent --undefinesource` does (managed: this process connects
// to both daemons, libvirt runs the QEMU-to-QEMU stream). It touches no
// secret and no record: lib/volumes/migration.h orders it between a prepare
// and a finish.
#ifndef VOLCRYPT_LIB_ATTACH_MIGRATION_H_
#define VOLCRYPT_LIB_ATTACH_MIGRATION_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace volcrypt {

struct LiveMigrationRequest {
  std::string domain;           // name or UUID, on the source
  std::string source_uri;       // libvirt URI of the source daemon
  std::string destination_uri;  // libvirt URI of the destination daemon
  // Where QEMU streams the state (tcp://HOST:PORT); "" lets libvirt choose
  // from the destination's host name.
  std::string migrate_uri;
  // VIR_MIGRATE_UNSAFE: files on a shared path, which libvirt cannot prove
  // shared and refuses otherwise ("Migration without shared storage is
  // unsafe"). RBD disks do not need it.
  bool unsafe = false;
};

// Moves the running domain live, defines it on the destination and
// undefines it on the source (VIR_MIGRATE_LIVE | PERSIST_DEST |
// UNDEFINE_SOURCE, plus UNSAFE on request), through virDomainMigrate3.
// libvirt's own guarantee on failure: the domain keeps running on the
// source and nothing of it stays on the destination. Errors carry libvirt's
// message: NotFound (no such domain, or a secret the destination lacks),
// Unavailable (a daemon unreachable), FailedPrecondition (not running),
// Internal (QEMU refused, e.g. a wrong secret value).
absl::Status MigrateDomainLive(const LiveMigrationRequest& request);

// The host name the daemon at `uri` reports (virConnectGetHostname).
absl::StatusOr<std::string> LibvirtHostName(const std::string& uri);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_ATTACH_MIGRATION_H_
