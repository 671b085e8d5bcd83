// libxml2, loaded on first use (issue #16), as libcryptsetup is
// (lib/luks/cryptsetup_loader.h): linking it maps libxml2 with ICU, liblzma
// and zlib into every process, ~1.5 ms of `volcrypt help`, though only
// attach XML and domain disk parsing use it. libxml_loader.cc defines the
// xml* functions volcrypt calls, with libxml2's own declarations, each
// forwarding to the real one; if the library cannot be loaded they return
// null (or -1) and LibxmlLoadError() says why.
#ifndef VOLCRYPT_LIB_ATTACH_LIBXML_LOADER_H_
#define VOLCRYPT_LIB_ATTACH_LIBXML_LOADER_H_

#include <string>

namespace volcrypt {

// libxml2's xmlFree, a variable (not a function) in libxml2, so callers
// use this instead.
void XmlFree(void* p);

// Why libxml2 could not be loaded ("" if it was, or was not tried).
std::string LibxmlLoadError();

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_ATTACH_LIBXML_LOADER_H_
