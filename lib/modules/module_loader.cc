#include "lib/modules/module_loader.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <mutex>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace {

#define VOLCRYPT_STRINGIFY2(x) #x
#define VOLCRYPT_STRINGIFY(x) VOLCRYPT_STRINGIFY2(x)

// Whether this code runs from the build tree: then its own modules, not an
// installed (possibly older) volcrypt's, are the ones that match it.
bool InBuildTree() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&InBuildTree), &info) == 0 ||
      info.dli_fname == nullptr) {
    return false;
  }
  char resolved[PATH_MAX];
  const char* path = info.dli_fname;
  // The main program's dli_fname may be a relative argv[0]: resolve the link.
  if (realpath(path[0] == '/' ? path : "/proc/self/exe", resolved) == nullptr) return false;
  return absl::StartsWith(resolved, absl::StrCat(kVolcryptBuildRoot, "/"));
}

std::vector<std::string> Candidates(const std::string& file) {
  std::vector<std::string> dirs;
  if (const char* env = secure_getenv("VOLCRYPT_MODULE_DIR"); env != nullptr && *env != '\0') {
    dirs.push_back(env);
  }
  if (InBuildTree()) dirs.push_back(kVolcryptBuildModuleDir);
  dirs.push_back(kVolcryptInstallModuleDir);
  for (std::string& d : dirs) d = absl::StrCat(d, "/", file);
  return dirs;
}

absl::StatusOr<const void*> Load(const std::string& name) {
  const std::string file = absl::StrCat("volcrypt-", name, ".so");
  const std::string symbol =
      absl::StrCat("volcrypt_module_", name, "_", VOLCRYPT_STRINGIFY(VOLCRYPT_MODULE_ABI));
  std::vector<std::string> errors;
  for (const std::string& path : Candidates(file)) {
    if (access(path.c_str(), F_OK) != 0) {
      errors.push_back(absl::StrCat(path, ": not there"));
      continue;
    }
    // RTLD_NOW: a module whose libraries are missing fails here, not at a
    // later call. RTLD_LOCAL: its libraries' symbols stay out of the
    // process's global scope.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* e = dlerror();
      errors.push_back(e != nullptr ? e : path + ": dlopen failed");
      continue;
    }
    auto entry = reinterpret_cast<const void* (*)()>(dlsym(handle, symbol.c_str()));
    if (entry == nullptr) {
      errors.push_back(absl::StrCat(path, ": not a module of this volcrypt (no ", symbol, ")"));
      continue;  // another version's; keep it mapped (harmless), try the next
    }
    return entry();
  }
  return ErrnoError(absl::StatusCode::kUnimplemented, ENOTSUP,
                    absl::StrCat("volcrypt module ", file, " cannot be loaded: ",
                                 absl::StrJoin(errors, "; ")));
}

}  // namespace

absl::StatusOr<const void*> LoadModule(const std::string& name, const std::string& what) {
  static std::mutex mu;
  static auto* loaded = new std::map<std::string, absl::StatusOr<const void*>>();
  std::lock_guard<std::mutex> lock(mu);
  auto it = loaded->find(name);
  if (it == loaded->end()) it = loaded->emplace(name, Load(name)).first;
  if (!it->second.ok()) {
    return ErrnoError(it->second.status().code(), ErrnoOf(it->second.status()),
                      absl::StrCat(what, ": ", it->second.status().message()));
  }
  return it->second;
}

}  // namespace volcrypt
