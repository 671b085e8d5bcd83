// No fortified inline open() and no open -> open64 redirection may shadow
// the definitions below: each name defined here is the symbol it says.
#undef _FORTIFY_SOURCE
#undef _FILE_OFFSET_BITS
#include "tests/support/swap_on_open.h"

#include <dlfcn.h>
#include <fcntl.h>

#include <cstdarg>
#include <cstring>
#include <mutex>
#include <utility>

namespace volcrypt {
namespace testing {
namespace {

std::mutex mu;
std::string armed_base;
std::function<void()> armed_work;
int fired = 0;

bool Matches(const char* path, const std::string& base) {
  const size_t n = std::strlen(path);
  if (n < base.size()) return false;
  if (std::strcmp(path + n - base.size(), base.c_str()) != 0) return false;
  return n == base.size() || path[n - base.size() - 1] == '/';
}

void MaybeFire(const char* path) {
  std::function<void()> work;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!armed_work || path == nullptr || !Matches(path, armed_base)) return;
    work = std::exchange(armed_work, nullptr);
    ++fired;
  }
  work();
}

mode_t ModeArg(int flags, va_list ap) {
  return (flags & (O_CREAT | O_TMPFILE)) != 0 ? va_arg(ap, mode_t) : 0;
}

}  // namespace

void SwapOnNextOpen(const std::string& base, std::function<void()> work) {
  std::lock_guard<std::mutex> lock(mu);
  armed_base = base;
  armed_work = std::move(work);
}

int FiredSwaps() {
  std::lock_guard<std::mutex> lock(mu);
  return fired;
}

}  // namespace testing
}  // namespace volcrypt

using OpenFn = int (*)(const char*, int, ...);
using OpenAtFn = int (*)(int, const char*, int, ...);

#define VOLCRYPT_FORWARD_OPEN(name)                                        \
  extern "C" int name(const char* path, int flags, ...) {                  \
    static auto real = reinterpret_cast<OpenFn>(dlsym(RTLD_NEXT, #name));  \
    va_list ap;                                                            \
    va_start(ap, flags);                                                   \
    const mode_t mode = volcrypt::testing::ModeArg(flags, ap);             \
    va_end(ap);                                                            \
    volcrypt::testing::MaybeFire(path);                                    \
    return real(path, flags, mode);                                        \
  }
#define VOLCRYPT_FORWARD_OPENAT(name)                                         \
  extern "C" int name(int dir, const char* path, int flags, ...) {            \
    static auto real = reinterpret_cast<OpenAtFn>(dlsym(RTLD_NEXT, #name));   \
    va_list ap;                                                               \
    va_start(ap, flags);                                                      \
    const mode_t mode = volcrypt::testing::ModeArg(flags, ap);                \
    va_end(ap);                                                               \
    volcrypt::testing::MaybeFire(path);                                       \
    return real(dir, path, flags, mode);                                      \
  }

VOLCRYPT_FORWARD_OPEN(open)
VOLCRYPT_FORWARD_OPEN(open64)
VOLCRYPT_FORWARD_OPENAT(openat)
VOLCRYPT_FORWARD_OPENAT(openat64)
