#include "lib/attach/migration.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"

namespace volcrypt {
namespace {

// libvirt's last error while doing `what`, with a code chosen as
// attacher.cc chooses it for the codes a migration meets.
absl::Status MigrationError(const std::string& what) {
  virErrorPtr err = virGetLastError();
  if (err == nullptr) return absl::InternalError(what + ": libvirt failed");
  absl::StatusCode code = absl::StatusCode::kInternal;
  switch (err->code) {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_SECRET:
      code = absl::StatusCode::kNotFound;
      break;
    case VIR_ERR_OPERATION_INVALID:
      code = absl::StatusCode::kFailedPrecondition;
      break;
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_RPC:
      code = absl::StatusCode::kUnavailable;
      break;
    case VIR_ERR_INVALID_ARG:
      code = absl::StatusCode::kInvalidArgument;
      break;
    default:
      break;
  }
  absl::Status s(code, absl::StrCat(what, ": ", err->message ? err->message : "",
                                    " (libvirt error ", err->code, ")"));
  virResetLastError();
  return s;
}

struct ConnClose {
  void operator()(virConnect* c) const { virConnectClose(c); }
};
struct DomainFree {
  void operator()(virDomain* d) const { virDomainFree(d); }
};
using Conn = std::unique_ptr<virConnect, ConnClose>;

absl::StatusOr<Conn> Open(const std::string& uri) {
  virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
  Conn c(virConnectOpen(uri.c_str()));
  if (c == nullptr) {
    absl::Status s = MigrationError("connect to libvirt at " + uri);
    return absl::Status(absl::StatusCode::kUnavailable, s.message());
  }
  return c;
}

}  // namespace

absl::Status MigrateDomainLive(const LiveMigrationRequest& request) {
  absl::StatusOr<Conn> source = Open(request.source_uri);
  if (!source.ok()) return source.status();
  absl::StatusOr<Conn> dest = Open(request.destination_uri);
  if (!dest.ok()) return dest.status();
  std::unique_ptr<virDomain, DomainFree> dom(
      virDomainLookupByName(source->get(), request.domain.c_str()));
  if (dom == nullptr) {
    dom.reset(virDomainLookupByUUIDString(source->get(), request.domain.c_str()));
  }
  if (dom == nullptr) return MigrationError("domain " + request.domain);
  virTypedParameterPtr params = nullptr;
  int nparams = 0;
  int maxparams = 0;
  if (!request.migrate_uri.empty() &&
      virTypedParamsAddString(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_URI,
                              request.migrate_uri.c_str()) != 0) {
    return MigrationError("migration parameters");
  }
  unsigned flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE;
  if (request.unsafe) flags |= VIR_MIGRATE_UNSAFE;
  virDomainPtr moved = virDomainMigrate3(dom.get(), dest->get(), params, nparams, flags);
  absl::Status s = moved == nullptr
                       ? MigrationError(absl::StrCat("migrate domain ", request.domain,
                                                     " to ", request.destination_uri))
                       : absl::OkStatus();
  if (moved != nullptr) virDomainFree(moved);
  virTypedParamsFree(params, nparams);
  return s;
}

absl::StatusOr<std::string> LibvirtHostName(const std::string& uri) {
  absl::StatusOr<Conn> c = Open(uri);
  if (!c.ok()) return c.status();
  char* name = virConnectGetHostname(c->get());
  if (name == nullptr) return MigrationError("host name of libvirt at " + uri);
  std::string out = name;
  free(name);
  return out;
}

}  // namespace volcrypt
