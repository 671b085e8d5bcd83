#include "bench/bench_support.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <vector>

namespace volcrypt {
namespace bench {
namespace {

struct Scratch {
  Scratch() {
    const char* base = std::getenv("VOLCRYPT_BENCH_DIR");
    std::string templ =
        std::string(base != nullptr ? base : "/var/tmp") + "/volcrypt-bench-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) std::abort();
    path = templ;
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

}  // namespace

const std::string& ScratchDir() { return RunWide<Scratch>().path; }

std::string FreshFile(const std::string& name, uint64_t bytes) {
  const std::string path = ScratchDir() + "/" + name;
  unlink(path.c_str());
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(bytes)) != 0) std::abort();
  close(fd);
  return path;
}

std::string HalfDataFile(const std::string& name, uint64_t bytes, uint64_t extent) {
  const std::string path = FreshFile(name, bytes);
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  std::mt19937_64 rng(42);
  std::vector<uint64_t> buf(extent / 8);
  for (uint64_t off = 0; off + extent <= bytes; off += 2 * extent) {
    for (uint64_t& w : buf) w = rng();
    if (pwrite(fd, buf.data(), extent, static_cast<off_t>(off)) != static_cast<ssize_t>(extent)) {
      std::abort();
    }
  }
  fdatasync(fd);
  close(fd);
  return path;
}

namespace {

// The last 2 KiB of a failed tool's stderr, on ours.
void ShowToolErrors(int fd, const std::string& tool, int rc) {
  char tail[2048];
  const off_t size = lseek(fd, 0, SEEK_END);
  const off_t from = size > static_cast<off_t>(sizeof(tail)) ? size - sizeof(tail) : 0;
  const ssize_t n = pread(fd, tail, sizeof(tail), from);
  std::cerr << "bench: " << tool << " exited with " << rc << ": "
            << std::string(tail, n > 0 ? static_cast<size_t>(n) : 0) << std::endl;
}

}  // namespace

int Run(const std::vector<std::string>& argv,
        const std::vector<const SecretBytes*>& secrets) {
  std::vector<int> readers;
  for (const SecretBytes* secret : secrets) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    // A passphrase fits in a pipe buffer: the write cannot block.
    if (write(fds[1], secret->data(), secret->size()) < 0) return -1;
    close(fds[1]);
    readers.push_back(fds[0]);
  }
  // Prepared before fork(): the child of a threaded process (librados) may
  // only make async-signal-safe calls, never allocate.
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // Readers out of the way of 0..2 and 3.. first, then into 3, 4, ...
  std::vector<int> high;
  for (int fd : readers) high.push_back(fcntl(fd, F_DUPFD_CLOEXEC, 100));
  const int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  // The tool's stderr is kept aside and shown only if it fails: a row that
  // fails once in a long run then says why (tools never print the
  // passphrases, which they read from fd 3 and up).
  const int errors = memfd_create("bench-tool-stderr", MFD_CLOEXEC);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(errors >= 0 ? errors : devnull, 2);
    for (size_t i = 0; i < high.size(); ++i) dup2(high[i], 3 + static_cast<int>(i));
    execvp(args[0], args.data());
    _exit(127);
  }
  for (int fd : readers) close(fd);
  for (int fd : high) close(fd);
  if (devnull >= 0) close(devnull);
  int status = 0;
  waitpid(pid, &status, 0);
  const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (errors >= 0) {
    if (rc != 0) ShowToolErrors(errors, argv[0], rc);
    close(errors);
  }
  return rc;
}

std::string RunOutput(const std::vector<std::string>& argv) {
  std::string cmd;
  for (const std::string& a : argv) cmd += "'" + a + "' ";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return "";
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  return pclose(p) == 0 ? out : "";
}

void WriteText(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) std::abort();
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

SecretBytes MachinePassphrase() {
  return HexPassphrase(SecretBytes::Random(32).value());
}

ScriptService::ScriptService(const std::string& script) {
  const char* root = std::getenv("VOLCRYPT_SOURCE_ROOT");
  script_ = std::string(root ? root : ".") + "/tests/scripts/" + script;
  // Servers that drop privileges (PostgreSQL runs as nobody) must reach
  // their directory: traverse only, no listing.
  chmod(ScratchDir().c_str(), 0711);
  dir_ = ScratchDir() + "/" + script;
  std::string out = RunOutput({"bash", script_, "start", dir_});
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  address_ = out;
}

ScriptService::~ScriptService() { Run({"bash", script_, "stop", dir_}); }

}  // namespace bench
}  // namespace volcrypt
