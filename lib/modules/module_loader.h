// Loading volcrypt's own backend modules (issue #16), as QEMU loads
// block-rbd.so: the heavy libraries (librbd, libvirt, libcurl, libpq) are
// needed by modules, not by libvolcrypt.so or the CLI, so a process maps them
// only when it first uses that backend. A mapped-volume command loads none.
//
// A module `volcrypt-NAME.so` exports one C function,
// volcrypt_module_NAME_<abi>(), returning its table of entry points (the
// structs below). <abi> is this build's version token: a module from another
// version is refused rather than called with other struct layouts.
//
// Where modules are looked for, first match wins:
//   1. $VOLCRYPT_MODULE_DIR if absolute (ignored in setuid processes);
//   2. the build tree's lib/, if the code asking lives in the build tree
//      (tests, benchmarks, an uninstalled CLI);
//   3. <libdir>/volcrypt-<soversion>, where `meson install` puts them.
// Modules are never unloaded (objects they made may outlive any caller).
#ifndef VOLCRYPT_LIB_MODULES_MODULE_LOADER_H_
#define VOLCRYPT_LIB_MODULES_MODULE_LOADER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "lib/attach/migration.h"
#include "lib/store/sql_connection.h"
#include "lib/volcrypt_module_paths.h"
#include "volcrypt/attacher.h"
#include "volcrypt/barbican_key_manager.h"
#include "volcrypt/rbd_backend.h"

namespace volcrypt {

struct HttpRequest;
struct HttpResponse;

struct RbdModule {
  absl::StatusOr<std::unique_ptr<RbdBackend>> (*connect)(const RbdBackendOptions&);
  absl::StatusOr<SecretBytes> (*read_cephx_key)(const RbdBackendOptions&);
};
struct LibvirtModule {
  absl::StatusOr<std::unique_ptr<Attacher>> (*connect)(const std::string& uri);
  absl::Status (*migrate_domain_live)(const LiveMigrationRequest&);
  absl::StatusOr<std::string> (*host_name)(const std::string& uri);
};
struct BarbicanModule {
  absl::StatusOr<std::unique_ptr<KeyManager>> (*new_key_manager)(const BarbicanOptions&,
                                                                 Logger*);
  absl::StatusOr<HttpResponse> (*perform_http)(const HttpRequest&, const std::string&);
};
struct PostgresModule {
  absl::StatusOr<std::unique_ptr<SqlConnection>> (*open)(const std::string& conninfo,
                                                         int lock_timeout_ms, bool read_only);
};

// The entry table of module `name` ("rbd", "libvirt", "barbican",
// "postgres"), loading it on first use; thread-safe. Unimplemented (ENOTSUP)
// naming the paths tried and the loader's error if no usable module is
// found: "connect to Ceph: volcrypt module volcrypt-rbd.so cannot be loaded:
// ...". `what` says what the caller was doing.
absl::StatusOr<const void*> LoadModule(const std::string& name, const std::string& what);

}  // namespace volcrypt

// Defines the exported entry of module NAME returning `table`.
#define VOLCRYPT_MODULE_ENTRY_NAME2(name, abi) volcrypt_module_##name##_##abi
#define VOLCRYPT_MODULE_ENTRY_NAME(name, abi) VOLCRYPT_MODULE_ENTRY_NAME2(name, abi)
#define VOLCRYPT_DEFINE_MODULE(name, table)                                    \
  extern "C" __attribute__((visibility("default"))) const void*                \
  VOLCRYPT_MODULE_ENTRY_NAME(name, VOLCRYPT_MODULE_ABI)() {                    \
    return &(table);                                                           \
  }

#endif  // VOLCRYPT_LIB_MODULES_MODULE_LOADER_H_
