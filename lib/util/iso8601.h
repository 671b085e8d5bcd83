// Seconds since the epoch as the UTC text the JSON output uses:
// "2026-12-02T09:30:00Z".
#ifndef VOLCRYPT_LIB_UTIL_ISO8601_H_
#define VOLCRYPT_LIB_UTIL_ISO8601_H_

#include <cstdint>
#include <string>

namespace volcrypt {

std::string Iso8601(int64_t seconds);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_UTIL_ISO8601_H_
