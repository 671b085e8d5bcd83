#include "lib/modules/module_loader.h"

#include <dlfcn.h>
#include <link.h>
#include <sys/auxv.h>
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

// The load address of the main program (its ELF header), as dladdr
// reports it in dli_fbase for the program's own code.
const void* MainProgramBase() {
  Dl_info info{};
  const auto phdr = reinterpret_cast<const ElfW(Phdr)*>(getauxval(AT_PHDR));
  if (phdr == nullptr || dladdr(phdr, &info) == 0) return nullptr;
  return info.dli_fbase;
}

#define VOLCRYPT_STRINGIFY2(x) #x
#define VOLCRYPT_STRINGIFY(x) VOLCRYPT_STRINGIFY2(x)

// Whether this code runs from the build tree: then its own modules, not an
// installed (possibly older) volcrypt's, are the ones that match it. Never
// in a setuid or otherwise secure process, whose caller chose nothing.
bool InBuildTree() {
  if (getauxval(AT_SECURE) != 0) return false;
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&InBuildTree), &info) == 0 ||
      info.dli_fname == nullptr) {
    return false;
  }
  // In a shared library, dli_fname is the path the dynamic loader opened.
  // In the main program it is argv[0], which the caller writes (exec -a):
  // the kernel's /proc/self/exe is asked instead.
  const bool shared_library = info.dli_fbase != MainProgramBase();
  char resolved[PATH_MAX];
  if (realpath(shared_library ? info.dli_fname : "/proc/self/exe", resolved) == nullptr) {
    return false;
  }
  return absl::StartsWith(resolved, absl::StrCat(kVolcryptBuildRoot, "/"));
}

std::vector<std::string> Candidates(const std::string& file) {
  std::vector<std::string> dirs;
  // Only an absolute directory: a relative one would load code from
  // wherever the process happens to run.
  if (const char* env = secure_getenv("VOLCRYPT_MODULE_DIR"); env != nullptr && env[0] == '/') {
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
    // process's global scope; but Ceph's own plugins (compressors for
    // on-wire compression, crypto accelerators), which libceph-common
    // dlopens, find its symbols only there, so librbd's module is global,
    // as QEMU loads block-rbd.so.
    const int scope = name == "rbd" ? RTLD_GLOBAL : RTLD_LOCAL;
    void* handle = dlopen(path.c_str(), RTLD_NOW | scope);
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
