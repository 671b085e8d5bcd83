// The C calls for attaching with every option, and for handing a volume's
// passphrase to another program through a file descriptor.
#include <cstdlib>

#include "capi/c_handles.h"
#include "capi/c_status.h"
#include "capi/c_struct.h"
#include "capi/volcrypt.h"

namespace volcrypt {
namespace capi {
namespace {

// `options` (may be NULL) as the C++ plan options; 0 or -errno.
int PlanOptionsOf(const volcrypt_attach_options_t* options, AttachPlanOptions* out,
                  AttachTarget* target, char** errmsg) {
  volcrypt_attach_options_t o = {sizeof o, nullptr, nullptr, 0, 0, 0};
  if (options != nullptr) {
    if (int r = ReadStruct(options, VOLCRYPT_FIRST_SIZE(volcrypt_attach_options_t, config),
                           "volcrypt_attach_options_t", &o, errmsg)) {
      return r;
    }
  }
  out->target_dev = Str(o.target_dev, "sdb");
  out->target_bus = Str(o.target_bus, "scsi");
  out->ephemeral_secret = o.ephemeral_secret != 0;
  if (target != nullptr) {
    target->live = o.live != 0 || o.config == 0;
    target->config = o.config != 0;
  }
  return 0;
}

}  // namespace
}  // namespace capi
}  // namespace volcrypt

using volcrypt::capi::Fail;
using volcrypt::capi::FromStatus;
using volcrypt::capi::Guard;
using volcrypt::capi::NullArgument;

extern "C" {

int volcrypt_volume_attach_with_options(volcrypt_service_t* service, const char* id,
                                        const char* domain,
                                        const volcrypt_attach_options_t* options,
                                        char** errmsg) {
  return Guard(errmsg, [&] {
    if (service == nullptr || id == nullptr || domain == nullptr) {
      return NullArgument("service, id and domain", errmsg);
    }
    volcrypt::AttachPlanOptions plan;
    volcrypt::AttachTarget target;
    target.domain = domain;
    if (int r = volcrypt::capi::PlanOptionsOf(options, &plan, &target, errmsg)) return r;
    return FromStatus(service->rep->AttachVolume(id, target, plan).status(), errmsg);
  });
}

int volcrypt_volume_attach_plan_with_options(volcrypt_service_t* service, const char* id,
                                             const volcrypt_attach_options_t* options,
                                             char** secret_xml, char** disk_xml,
                                             unsigned char* passphrase, size_t* len,
                                             char** errmsg) {
  return Guard(errmsg, [&] {
    if (service == nullptr || id == nullptr || secret_xml == nullptr ||
        disk_xml == nullptr || len == nullptr) {
      return NullArgument("service, id, secret_xml, disk_xml and len", errmsg);
    }
    volcrypt::AttachPlanOptions o;
    if (int r = volcrypt::capi::PlanOptionsOf(options, &o, nullptr, errmsg)) return r;
    absl::StatusOr<volcrypt::AttachPlan> plan = service->rep->PlanAttach(id, o);
    if (!plan.ok()) return FromStatus(plan.status(), errmsg);
    if (int r = volcrypt::capi::ReturnSecret(plan->passphrase, passphrase, len, errmsg)) {
      return r;
    }
    char* secret = volcrypt::capi::CopyString(plan->secret_xml);
    char* disk = volcrypt::capi::CopyString(plan->disk_xml);
    if (secret == nullptr || disk == nullptr) {
      std::free(secret);
      std::free(disk);
      volcrypt_wipe(passphrase, *len);
      return Fail(ENOMEM, "out of memory", errmsg);
    }
    *secret_xml = secret;
    *disk_xml = disk;
    return 0;
  });
}

int volcrypt_volume_write_passphrase(volcrypt_service_t* service, const char* id, int fd,
                                     char** errmsg) {
  return Guard(errmsg, [&] {
    if (service == nullptr || id == nullptr) return NullArgument("service and id", errmsg);
    return FromStatus(service->rep->WritePassphrase(id, fd), errmsg);
  });
}

}  // extern "C"
