// The C call for a live migration (volcrypt/migration.h).
#include "capi/c_handles.h"
#include "capi/c_status.h"
#include "capi/c_struct.h"
#include "capi/volcrypt.h"
#include "nlohmann/json.hpp"
#include "volcrypt/migration.h"

using volcrypt::capi::FromStatus;
using volcrypt::capi::Guard;
using volcrypt::capi::NullArgument;
using volcrypt::capi::ReadStruct;
using volcrypt::capi::ReturnString;
using volcrypt::capi::Str;

extern "C" {

int volcrypt_domain_migrate(volcrypt_service_t* service, volcrypt_attacher_t* destination,
                            const volcrypt_domain_migrate_options_t* options, char** json,
                            char** errmsg) {
  return Guard(errmsg, [&] {
    if (service == nullptr || destination == nullptr || options == nullptr) {
      return NullArgument("service, destination and options", errmsg);
    }
    volcrypt_domain_migrate_options_t copy;
    if (int r = ReadStruct(options,
                           VOLCRYPT_FIRST_SIZE(volcrypt_domain_migrate_options_t, migrate_uri),
                           "volcrypt_domain_migrate_options_t", &copy, errmsg)) {
      return r;
    }
    if (copy.domain == nullptr || copy.source_uri == nullptr ||
        copy.destination_uri == nullptr) {
      return NullArgument("options->domain, source_uri and destination_uri", errmsg);
    }
    volcrypt::DomainMigrationOptions o;
    o.domain = copy.domain;
    o.source_uri = copy.source_uri;
    o.destination_uri = copy.destination_uri;
    o.destination_host = Str(copy.destination_host);
    o.migrate_uri = Str(copy.migrate_uri);
    absl::StatusOr<volcrypt::MigrationPlan> moved =
        volcrypt::MigrateDomain(*service->rep, *destination->rep, o);
    if (!moved.ok()) return FromStatus(moved.status(), errmsg);
    if (json == nullptr) return 0;
    nlohmann::json out = {{"domain", o.domain}, {"volumes", moved->volume_ids}};
    return ReturnString(out.dump(), json, errmsg);
  });
}

}  // extern "C"
