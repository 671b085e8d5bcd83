// What every libvirt call site in lib/attach shares: owning handles and the
// mapping of libvirt's last error to an absl::Status.
#ifndef VOLCRYPT_LIB_ATTACH_LIBVIRT_CALL_H_
#define VOLCRYPT_LIB_ATTACH_LIBVIRT_CALL_H_

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <memory>
#include <string>

#include "absl/status/status.h"

namespace volcrypt {

// libvirt prints every error to stderr unless told otherwise; volcrypt
// returns them instead. Idempotent.
void SilenceLibvirt();

// The status for libvirt's last error on this thread, while doing `what`;
// resets that error.
absl::Status LibvirtError(const std::string& what);

// libvirt's last error code on this thread, 0 if none.
int LibvirtCode();

// Takes ownership of a string libvirt allocated ("" for nullptr).
std::string TakeString(char* s);

struct DomainFree {
  void operator()(virDomain* d) const { virDomainFree(d); }
};
struct SecretFree {
  void operator()(virSecret* s) const { virSecretFree(s); }
};
using Domain = std::unique_ptr<virDomain, DomainFree>;
using Secret = std::unique_ptr<virSecret, SecretFree>;

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_ATTACH_LIBVIRT_CALL_H_
