// Independent verification with QEMU's own LUKS driver (qemu-io, qemu-img):
// data written through QEMU into our volumes reads back through QEMU and is
// encrypted at rest; volumes qemu-img creates open in ours.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/test_support.h"
#include "volcrypt/luks.h"
#include "volcrypt/size_rule.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::HaveTool;
using ::volcrypt::testing::MakeSparseFile;
using ::volcrypt::testing::RandomKey;
using ::volcrypt::testing::ReadFileOrDie;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::TempDir;

constexpr char kSecretObject[] = "secret,id=sec0,file=/dev/fd/3";

std::string LuksImageOpts(const std::string& path) {
  return "driver=luks,key-secret=sec0,file.driver=file,file.filename=" + path;
}

testing::CommandResult QemuIo(const std::string& path, const SecretBytes& pass,
                              const std::string& command) {
  return RunCommand({"qemu-io", "--object", kSecretObject, "--image-opts",
                     LuksImageOpts(path), "-c", command},
                    &pass);
}

class QemuInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveTool("qemu-io") || !HaveTool("qemu-img")) {
      GTEST_SKIP() << "qemu-utils is not installed";
    }
  }
  TempDir dir_;
};

TEST_F(QemuInteropTest, QemuReadsBackWhatItWroteThroughOurHeader) {
  const std::string path = dir_.File("vol");
  const uint64_t usable = 16 << 20;
  MakeSparseFile(path, kLuks1PayloadOffsetBytes + usable);
  SecretBytes pass = HexPassphrase(RandomKey());
  ASSERT_TRUE(luks::FormatPath(path, EncryptionSpec(), pass, {}).ok());

  auto write = QemuIo(path, pass, "write -P 0xa5 0 1M");
  ASSERT_EQ(write.exit_code, 0) << write.out << write.err;
  EXPECT_EQ(write.err, "");
  auto read = QemuIo(path, pass, "read -P 0xa5 0 1M");
  ASSERT_EQ(read.exit_code, 0) << read.out << read.err;
  EXPECT_EQ(read.out.find("Pattern verification failed"), std::string::npos)
      << read.out;

  // Encrypted at rest: the payload does not hold the plaintext pattern.
  const std::string raw = ReadFileOrDie(path);
  const std::string plain(4096, '\xa5');
  EXPECT_EQ(raw.find(plain), std::string::npos);

  // QEMU sees exactly the usable size (the size rule).
  auto info = RunCommand({"qemu-img", "info", "--object", kSecretObject,
                          "--image-opts", LuksImageOpts(path)}, &pass);
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("(" + std::to_string(usable) + " bytes)"),
            std::string::npos)
      << info.out;
}

TEST_F(QemuInteropTest, QemuRefusesAWrongKey) {
  const std::string path = dir_.File("vol");
  MakeSparseFile(path, 8 << 20);
  ASSERT_TRUE(luks::FormatPath(path, EncryptionSpec(), HexPassphrase(RandomKey()),
                               {}).ok());
  auto read = QemuIo(path, HexPassphrase(RandomKey()), "read 0 4k");
  EXPECT_NE(read.exit_code, 0);
  EXPECT_NE((read.out + read.err).find("Invalid password"), std::string::npos)
      << read.out << read.err;
}

TEST_F(QemuInteropTest, QemuImgVolumeOpensInOurs) {
  const std::string path = dir_.File("qemu.luks");
  SecretBytes pass = HexPassphrase(RandomKey());
  // qemu-img's PBKDF calibration intermittently measures 0 ms on these VMs
  // and fails ("Unable to get accurate CPU usage"): retry a few times.
  testing::CommandResult made;
  for (int attempt = 0; attempt < 8; ++attempt) {
    made = RunCommand({"qemu-img", "create", "-f", "luks", "--object",
                       kSecretObject, "-o", "key-secret=sec0,iter-time=50",
                       path, "16M"},
                      &pass);
    if (made.exit_code == 0) break;
  }
  ASSERT_EQ(made.exit_code, 0) << made.err;
  absl::StatusOr<int> slot = luks::VerifyPassphrase(path, pass);
  ASSERT_TRUE(slot.ok()) << slot.status();
  absl::StatusOr<luks::LuksInfo> info = luks::Inspect(path);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->format, LuksFormat::kLuks1);
  EXPECT_EQ(info->cipher, "aes-xts-plain64");
  EXPECT_EQ(info->key_bits, 256);  // QEMU's default cipher-alg=aes-256
  EXPECT_EQ(info->payload_bytes, 16u << 20);
  EXPECT_THAT(luks::VerifyPassphrase(path, HexPassphrase(RandomKey())),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(QemuInteropTest, Aes128XtsAndCbcEssivOpenInQemu) {
  for (const auto& [cipher, bits] :
       {std::pair<std::string, int>{"aes-xts-plain64", 128},
        std::pair<std::string, int>{"aes-cbc-essiv:sha256", 256}}) {
    const std::string path = dir_.File("vol-" + std::to_string(bits));
    MakeSparseFile(path, 8 << 20);
    EncryptionSpec spec;
    spec.cipher = cipher;
    spec.key_bits = bits;
    SecretBytes pass = HexPassphrase(RandomKey(spec.key_bits / 8));
    ASSERT_TRUE(luks::FormatPath(path, spec, pass, {}).ok());
    auto io = QemuIo(path, pass, "write -P 0x5a 0 64k");
    EXPECT_EQ(io.exit_code, 0) << cipher << ": " << io.out << io.err;
    io = QemuIo(path, pass, "read -P 0x5a 0 64k");
    EXPECT_EQ(io.out.find("Pattern verification failed"), std::string::npos)
        << cipher << ": " << io.out;
  }
}

}  // namespace
}  // namespace volcrypt
