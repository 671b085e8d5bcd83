// How the C shim turns statuses and exceptions into "0 or -errno" plus an
// optional malloc'd message. Separate from volcrypt.cc so that a C++ test
// can prove no exception crosses the ABI.
#ifndef VOLCRYPT_CAPI_C_STATUS_H_
#define VOLCRYPT_CAPI_C_STATUS_H_

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "absl/status/status.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace capi {

// A malloc'd copy of `s` (NULL if out of memory).
inline char* CopyString(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out != nullptr) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

inline int Fail(int err, const std::string& message, char** errmsg) {
  if (errmsg != nullptr) *errmsg = CopyString(message);
  return -err;
}

// 0 for OK; else -errno with the status message in *errmsg.
inline int FromStatus(const absl::Status& s, char** errmsg) {
  if (s.ok()) return 0;
  return Fail(ErrnoOf(s), std::string(s.message()), errmsg);
}

// Runs `body` (returning an int result) and turns any exception into an
// error code: nothing ever unwinds into C.
template <typename Body>
int Guard(char** errmsg, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Fail(ENOMEM, "out of memory", errmsg);
  } catch (const std::exception& e) {
    return Fail(EIO, std::string("internal error: ") + e.what(), errmsg);
  } catch (...) {
    return Fail(EIO, "internal error", errmsg);
  }
}

}  // namespace capi
}  // namespace volcrypt

#endif  // VOLCRYPT_CAPI_C_STATUS_H_
