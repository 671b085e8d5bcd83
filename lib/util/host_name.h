// This machine's host name: the default `host` of volumes and of the
// fixed-key migration, as cinder's CONF.host defaults to it.
#ifndef VOLCRYPT_LIB_UTIL_HOST_NAME_H_
#define VOLCRYPT_LIB_UTIL_HOST_NAME_H_

#include <string>

namespace volcrypt {

// gethostname(), or "localhost" if it fails.
std::string SystemHostName();

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_UTIL_HOST_NAME_H_
