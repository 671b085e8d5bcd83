#include "lib/util/lazy_library.h"

#include <dlfcn.h>

namespace volcrypt {

void LazyLibrary::Load() {
  std::call_once(once_, [this] {
    // RTLD_LOCAL: its symbols are not interposed on anyone else's; it is
    // never closed, like the backend modules.
    handle_ = dlopen(soname_, RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) {
      const char* why = dlerror();
      error_ = why != nullptr ? why : soname_;
    }
  });
}

void* LazyLibrary::Symbol(const char* name) {
  Load();
  return handle_ == nullptr ? nullptr : dlsym(handle_, name);
}

std::string LazyLibrary::error() {
  Load();
  return error_;
}

}  // namespace volcrypt
