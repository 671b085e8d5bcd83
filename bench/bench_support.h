// Small helpers for volcrypt's benchmarks: a scratch directory and running
// the external tools we compare against, passphrase through a pipe on fd 3.
#ifndef VOLCRYPT_BENCH_BENCH_SUPPORT_H_
#define VOLCRYPT_BENCH_BENCH_SUPPORT_H_

#include <cstdlib>
#include <string>
#include <vector>

#include "volcrypt/secret_bytes.h"

namespace volcrypt {
namespace bench {

// One T for the whole benchmark run: made on first use, destroyed at exit
// (so the services it started are stopped by PID even after a failure).
template <typename T>
T& RunWide() {
  static T* instance = new T;
  static const int registered = std::atexit([] { delete instance; });
  (void)registered;
  return *instance;
}

// A scratch directory under $VOLCRYPT_BENCH_DIR or /var/tmp (a real disk,
// not tmpfs), removed at exit.
const std::string& ScratchDir();

// A fresh sparse file of `bytes` in the scratch directory; returns its path.
std::string FreshFile(const std::string& name, uint64_t bytes);

// A fresh file of `bytes` whose every other `extent` (from offset 0) holds
// random bytes, the rest holes: a half-data volume for the copy benches.
std::string HalfDataFile(const std::string& name, uint64_t bytes, uint64_t extent);

// Runs argv with secrets[i] readable on fd 3 + i (pipes); returns the exit
// code.
int Run(const std::vector<std::string>& argv,
        const std::vector<const SecretBytes*>& secrets = {});

// Runs argv and returns its standard output ("" on failure).
std::string RunOutput(const std::vector<std::string>& argv);

// Writes `text` to `path`.
void WriteText(const std::string& path, const std::string& text);

// A real service started by tests/scripts/NAME.sh in the scratch directory
// for the whole run, stopped by PID at exit. address() is what the script
// printed ("" if it did not start).
class ScriptService {
 public:
  explicit ScriptService(const std::string& script);
  ~ScriptService();
  const std::string& address() const { return address_; }

 private:
  std::string script_, dir_, address_;
};

// A passphrase that is the hex of a random 256-bit key.
SecretBytes MachinePassphrase();

}  // namespace bench
}  // namespace volcrypt

#endif  // VOLCRYPT_BENCH_BENCH_SUPPORT_H_
