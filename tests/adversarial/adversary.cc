#include "tests/adversarial/adversary.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/escaping.h"

namespace volcrypt {
namespace testing {
namespace {

std::string DrainFrom(int fd) {
  std::string out;
  if (fd < 0) return out;
  lseek(fd, 0, SEEK_SET);
  char buf[8192];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

int AnonymousFile() {
  std::string templ = "/tmp/volcrypt-adv-XXXXXX";
  const int fd = mkostemp(templ.data(), O_CLOEXEC);
  if (fd >= 0) unlink(templ.c_str());
  return fd;
}

}  // namespace

std::string CliPath() {
  const char* path = std::getenv("VOLCRYPT_CLI");
  return path ? path : "volcrypt";
}

Background::Background(const std::vector<std::string>& argv) {
  out_fd_ = AnonymousFile();
  err_fd_ = AnonymousFile();
  // Everything the child needs is made before fork() (see RunCommand).
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_ = fork();
  if (pid_ == 0) {
    // A fresh process group: killing it takes any helper it started.
    setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);
    dup2(devnull, 0);
    dup2(out_fd_, 1);
    dup2(err_fd_, 2);
    execvp(args[0], args.data());
    _exit(127);
  }
  if (devnull >= 0) close(devnull);
}

Background::~Background() {
  if (pid_ > 0) Kill();
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

Outcome Background::Collect(int wstatus, bool timed_out) {
  Outcome o;
  o.timed_out = timed_out;
  o.exit_code = WIFEXITED(wstatus)     ? WEXITSTATUS(wstatus)
                : WIFSIGNALED(wstatus) ? 128 + WTERMSIG(wstatus)
                                       : -1;
  o.out = DrainFrom(out_fd_);
  o.err = DrainFrom(err_fd_);
  pid_ = -1;
  return o;
}

Outcome Background::Wait(double seconds) {
  if (pid_ <= 0) return Outcome();
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  int wstatus = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const pid_t r = waitpid(pid_, &wstatus, WNOHANG);
    if (r == pid_) return Collect(wstatus, false);
    if (r < 0) return Collect(0, false);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  waitpid(pid_, &wstatus, 0);
  return Collect(wstatus, true);
}

Outcome Background::Kill() {
  if (pid_ <= 0) return Outcome();
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  int wstatus = 0;
  waitpid(pid_, &wstatus, 0);
  return Collect(wstatus, false);
}

Outcome RunBounded(const std::vector<std::string>& argv, double seconds) {
  Background b(argv);
  return b.Wait(seconds);
}

std::vector<std::string> Operator::Argv(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {CliPath()};
  argv.insert(argv.end(), globals_.begin(), globals_.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

Outcome Operator::Run(const std::vector<std::string>& args, double seconds) const {
  return RunBounded(Argv(args), seconds);
}

std::vector<std::string> UnderStrace(const std::vector<std::string>& options,
                                     const std::vector<std::string>& argv) {
  std::vector<std::string> out = {"env", "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1",
                                  "strace", "-f", "-qq", "-o", "/dev/null"};
  out.insert(out.end(), options.begin(), options.end());
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

bool IsOneShortLine(const std::string& err, size_t max_bytes) {
  return !err.empty() && err.size() <= max_bytes && err.back() == '\n' &&
         err.find('\n') == err.size() - 1;
}

nlohmann::json ParseJson(const std::string& text) {
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

std::string FileContent(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "<missing>";
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteMarkedFile(const std::string& path, const std::string& marker,
                     uint64_t bytes) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(write(fd, marker.data(), marker.size()), static_cast<ssize_t>(marker.size()));
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(bytes)), 0);
  close(fd);
}

std::string Printable(const std::string& bytes, size_t max) {
  std::string e = absl::CHexEscape(bytes.substr(0, max));
  if (bytes.size() > max) e += "...(" + std::to_string(bytes.size()) + " bytes)";
  return e;
}

}  // namespace testing
}  // namespace volcrypt
