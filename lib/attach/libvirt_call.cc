#include "lib/attach/libvirt_call.h"

#include <cstdlib>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace volcrypt {
namespace {

absl::StatusCode CodeFor(int libvirt_code) {
  switch (libvirt_code) {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_SECRET:
      return absl::StatusCode::kNotFound;
    case VIR_ERR_OPERATION_INVALID:
      return absl::StatusCode::kFailedPrecondition;
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_RPC:
    case VIR_ERR_AGENT_UNRESPONSIVE:
      return absl::StatusCode::kUnavailable;
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_XML_DETAIL:
    case VIR_ERR_CONFIG_UNSUPPORTED:
    case VIR_ERR_INVALID_ARG:
      return absl::StatusCode::kInvalidArgument;
    case VIR_ERR_NO_SUPPORT:
      return absl::StatusCode::kUnimplemented;
    case VIR_ERR_OPERATION_DENIED:
    case VIR_ERR_AUTH_FAILED:
      return absl::StatusCode::kPermissionDenied;
    default:
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

void SilenceLibvirt() {
  static std::once_flag once;
  std::call_once(once, [] {
    virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
  });
}

absl::Status LibvirtError(const std::string& what) {
  virErrorPtr err = virGetLastError();
  if (err == nullptr) return absl::InternalError(what + ": libvirt failed");
  absl::Status s(CodeFor(err->code),
                 absl::StrCat(what, ": ", err->message ? err->message : "",
                              " (libvirt error ", err->code, ")"));
  virResetLastError();
  return s;
}

int LibvirtCode() {
  virErrorPtr err = virGetLastError();
  return err ? err->code : 0;
}

std::string TakeString(char* s) {
  std::string out = s ? s : "";
  free(s);
  return out;
}

}  // namespace volcrypt
