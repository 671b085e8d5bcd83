#include "absl/strings/escaping.h"
#include "tests/support/test_support.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace volcrypt {
namespace testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base != nullptr ? base : "/tmp") +
                      "/volcrypt-test-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp: " << strerror(errno);
  }
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

namespace {

std::string Drain(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  return out;
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& argv,
                         const SecretBytes* secret_fd3) {
  CommandResult result;
  std::string out_path_template = "/tmp/volcrypt-cmd-XXXXXX";
  int out_fd = mkstemp(out_path_template.data());
  std::string err_path_template = "/tmp/volcrypt-cmd-XXXXXX";
  int err_fd = mkstemp(err_path_template.data());
  unlink(out_path_template.c_str());
  unlink(err_path_template.c_str());
  int secret_pipe[2] = {-1, -1};
  if (secret_fd3 != nullptr) {
    if (pipe(secret_pipe) != 0) return result;
    // A key fits in the pipe buffer, so the write cannot block.
    if (write(secret_pipe[1], secret_fd3->data(), secret_fd3->size()) !=
        static_cast<ssize_t>(secret_fd3->size())) {
      return result;
    }
    close(secret_pipe[1]);
  }
  // Everything the child needs is made before fork(): in a process with
  // other threads (librados, libvirt) the child may only make
  // async-signal-safe calls; an allocation there can hang forever on a lock
  // another thread held at fork time (seen with ASan's allocator).
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(devnull, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    if (secret_fd3 != nullptr) dup2(secret_pipe[0], 3);
    execvp(args[0], args.data());
    _exit(127);
  }
  if (devnull >= 0) close(devnull);
  if (secret_fd3 != nullptr) close(secret_pipe[0]);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  result.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  lseek(out_fd, 0, SEEK_SET);
  lseek(err_fd, 0, SEEK_SET);
  result.out = Drain(out_fd);
  result.err = Drain(err_fd);
  close(out_fd);
  close(err_fd);
  return result;
}

int WaitForExit(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool HaveTool(const std::string& tool) {
  return RunCommand({"sh", "-c", "command -v " + tool}).exit_code == 0;
}

void MakeSparseFile(const std::string& path, uint64_t bytes) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0) << path << ": " << strerror(errno);
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(bytes)), 0);
  close(fd);
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

SecretBytes RandomKey(size_t bytes) {
  absl::StatusOr<SecretBytes> key = SecretBytes::Random(bytes);
  EXPECT_TRUE(key.ok());
  return std::move(key).value();
}

std::string LuksFormatParamName(
    const ::testing::TestParamInfo<LuksFormat>& info) {
  return std::string(LuksFormatName(info.param));
}

bool IsRoot() { return geteuid() == 0; }

void ExpectNoSecretIn(const std::string& text, const SecretBytes& key) {
  const std::string raw(key.char_data(), key.size());
  const SecretBytes hex = HexPassphrase(key);
  EXPECT_EQ(text.find(raw), std::string::npos) << "raw key bytes leaked";
  EXPECT_EQ(text.find(std::string(hex.char_data(), hex.size())), std::string::npos)
      << "hex key leaked";
  EXPECT_EQ(text.find(absl::Base64Escape(raw)), std::string::npos) << "base64 key leaked";
}

}  // namespace testing
}  // namespace volcrypt
