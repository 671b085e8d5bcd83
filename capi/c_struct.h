// How the C shim reads an options struct that callers may have compiled
// against an older or a newer volcrypt.h. Fields are only ever appended, so:
//  - an older caller's struct_size is smaller than ours: the fields it did
//    not know stay zero, which every struct documents as "the default";
//  - a newer caller's struct_size is larger: accepted only if every byte we
//    do not know is zero, since a set field would ask for something this
//    library cannot do (the rule of Linux's copy_struct_from_user, E2BIG);
//  - a struct_size below the first published size is a caller bug (EINVAL).
#ifndef VOLCRYPT_CAPI_C_STRUCT_H_
#define VOLCRYPT_CAPI_C_STRUCT_H_

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "capi/c_status.h"

namespace volcrypt {
namespace capi {

// The size of a struct as first published: the end of its last field then.
// offsetof + sizeof rather than sizeof, so it does not move when fields are
// appended (and it is at most the old sizeof, padding included).
#define VOLCRYPT_FIRST_SIZE(type, last_field) \
  (offsetof(type, last_field) + sizeof(static_cast<type*>(nullptr)->last_field))

// Copies the caller's `*in` (whose first member is size_t struct_size) into
// `*out`, zeroed first. Returns 0, or -EINVAL / -E2BIG with *errmsg naming
// `type_name`.
template <typename T>
int ReadStruct(const T* in, size_t first_size, const char* type_name, T* out,
               char** errmsg) {
  const size_t given = in->struct_size;
  if (given < first_size) {
    return Fail(EINVAL,
                std::string(type_name) + ".struct_size " + std::to_string(given) +
                    " is smaller than its first published size " +
                    std::to_string(first_size),
                errmsg);
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(in);
  for (size_t i = sizeof(T); i < given; ++i) {
    if (bytes[i] != 0) {
      return Fail(E2BIG,
                  std::string(type_name) + " sets a field (byte " + std::to_string(i) +
                      ") this volcrypt does not know; its struct ends at byte " +
                      std::to_string(sizeof(T)),
                  errmsg);
    }
  }
  std::memset(static_cast<void*>(out), 0, sizeof(T));
  std::memcpy(static_cast<void*>(out), in, given < sizeof(T) ? given : sizeof(T));
  out->struct_size = sizeof(T);
  return 0;
}

}  // namespace capi
}  // namespace volcrypt

#endif  // VOLCRYPT_CAPI_C_STRUCT_H_
