// libcryptsetup, loaded on first use (issue #16). Loading it with the
// program costs every process, `volcrypt help` and `volume show` included,
// about 2.5 ms of mapping and relocating it and what it pulls in
// (libdevmapper, libudev, libselinux, libpcre2, libargon2, libjson-c).
// cryptsetup_loader.cc defines the crypt_* functions volcrypt calls, with
// libcryptsetup.h's own declarations; each resolves the real one with
// dlsym on its first call. If the library cannot be loaded, crypt_init and
// every other int-returning call fail with -ELIBACC and
// CryptsetupLoadError() says why.
#ifndef VOLCRYPT_LIB_LUKS_CRYPTSETUP_LOADER_H_
#define VOLCRYPT_LIB_LUKS_CRYPTSETUP_LOADER_H_

#include <string>

namespace volcrypt {
namespace luks {

// Why libcryptsetup could not be loaded ("" if it was, or was not tried).
std::string CryptsetupLoadError();

}  // namespace luks
}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_LUKS_CRYPTSETUP_LOADER_H_
