// A shared library opened on first use (dlopen, RTLD_NOW | RTLD_LOCAL) and
// never closed, for libraries a short process should not map at start
// (issue #16: libcryptsetup, libxml2). Thread-safe.
#ifndef VOLCRYPT_LIB_UTIL_LAZY_LIBRARY_H_
#define VOLCRYPT_LIB_UTIL_LAZY_LIBRARY_H_

#include <mutex>
#include <string>

namespace volcrypt {

class LazyLibrary {
 public:
  explicit LazyLibrary(const char* soname) : soname_(soname) {}
  LazyLibrary(const LazyLibrary&) = delete;
  LazyLibrary& operator=(const LazyLibrary&) = delete;

  // The symbol `name` as type F, or nullptr if the library or the symbol
  // is missing.
  template <typename F>
  F Resolve(const char* name) {
    return reinterpret_cast<F>(Symbol(name));
  }
  void* Symbol(const char* name);
  // The loader's error ("" if the library loaded).
  std::string error();

 private:
  void Load();

  const char* soname_;
  std::once_flag once_;
  void* handle_ = nullptr;
  std::string error_;
};

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_UTIL_LAZY_LIBRARY_H_
