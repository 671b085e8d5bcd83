// `volcrypt volume encrypt` / `volume reencrypt` as an operator runs them:
// the record as JSON, --json progress lines, QEMU reading the result with
// the passphrase `volume passphrase` prints, usage errors, and no secret in
// anything printed.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/test_support.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::CommandResult;
using ::volcrypt::testing::MakeSparseFile;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::TempDir;

std::string Cli() {
  const char* path = std::getenv("VOLCRYPT_CLI");
  return path ? path : "volcrypt";
}

class ConvertCliTest : public ::testing::Test {
 protected:
  CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {Cli(), "--state-dir", tmp_.File("state")});
    CommandResult r = RunCommand(args);
    transcript_ += r.out + r.err;
    return r;
  }

  // The volume's passphrase, through a pipe, as an operator gets it.
  SecretBytes Passphrase(const std::string& id) {
    CommandResult r = Run({"volume", "passphrase", id});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    transcript_.resize(transcript_.size() - r.out.size());
    return SecretBytes::CopyOf(r.out.data(), r.out.size());
  }

  CommandResult QemuRead(const std::string& path, const SecretBytes& pass,
                         const std::string& cmd) {
    return RunCommand({"qemu-io", "--object", "secret,id=s0,file=/dev/fd/3", "--image-opts",
                       "driver=luks,key-secret=s0,file.driver=file,file.filename=" + path,
                       "-c", cmd},
                      &pass);
  }

  TempDir tmp_;
  std::string transcript_;
};

TEST_F(ConvertCliTest, EncryptThenReencryptAFileQemuReadsEachTimeWithTheCurrentKey) {
  const std::string plain = tmp_.File("plain.img");
  MakeSparseFile(plain, 16 << 20);
  {
    const int fd = open(plain.c_str(), O_WRONLY);
    const std::string a(1 << 20, '\xa5');
    ASSERT_EQ(pwrite(fd, a.data(), a.size(), 12 << 20), static_cast<ssize_t>(a.size()));
    close(fd);
  }
  CommandResult m = Run({"volume", "manage", "--backend", "mapped", "--path", plain,
                         "--unencrypted", "--id", "v1"});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  CommandResult e = Run({"volume", "encrypt", "v1", "--path", tmp_.File("v1.luks"), "--json"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  // Progress lines, then the record.
  std::istringstream lines(e.out);
  std::string line, last_progress, record;
  while (std::getline(lines, line)) {
    if (line.rfind("{\"done_bytes\":", 0) == 0) {
      EXPECT_NO_THROW(nlohmann::json::parse(line)) << line;
      last_progress = line;
    } else {
      record += line + "\n";  // the record, as without --json
    }
  }
  EXPECT_EQ(last_progress, "{\"done_bytes\":16777216,\"total_bytes\":16777216}");
  nlohmann::json v = nlohmann::json::parse(record);
  EXPECT_EQ(v["status"], "available");
  EXPECT_EQ(v["encrypted"], true);
  const SecretBytes first = Passphrase("v1");
  CommandResult read = QemuRead(tmp_.File("v1.luks"), first, "read -P 0xa5 12M 1M");
  EXPECT_EQ(read.exit_code, 0) << read.err;
  EXPECT_EQ(read.out.find("verification failed"), std::string::npos);
  EXPECT_NE(access(plain.c_str(), F_OK), 0);

  CommandResult re = Run({"volume", "reencrypt", "v1", "--path", tmp_.File("v1.new"),
                          "--bandwidth", "64M"});
  ASSERT_EQ(re.exit_code, 0) << re.err;
  const SecretBytes second = Passphrase("v1");
  read = QemuRead(tmp_.File("v1.new"), second, "read -P 0xa5 12M 1M");
  EXPECT_EQ(read.exit_code, 0) << read.err;
  EXPECT_EQ(read.out.find("verification failed"), std::string::npos);
  EXPECT_NE(QemuRead(tmp_.File("v1.new"), first, "read 0 4k").exit_code, 0);
  testing::ExpectNoSecretIn(transcript_, first);
  testing::ExpectNoSecretIn(transcript_, second);
}

TEST_F(ConvertCliTest, UsageErrorsExitTwoWithOneLine) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"volume", "encrypt", "v1"},
        {"volume", "encrypt", "v1", "--path", "/x", "--pool", "rbd", "--image", "i"},
        {"volume", "reencrypt", "v1", "--pool", "rbd"},
        {"volume", "encrypt", "v1", "--path", "/x", "--format", "luks9"},
        {"volume", "encrypt", "v1", "--path", "/x", "--sector-size", "-1"},
        {"volume", "encrypt", "v1", "--path", "/x", "--bandwidth", "fast"},
        {"volume", "encrypt", "v1", "--path", "/x", "--bandwidth", "0"}}) {
    CommandResult r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  }
  CommandResult missing = Run({"volume", "encrypt", "nope", "--path", tmp_.File("x")});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("not found"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace volcrypt
