// volcrypt's own LUKS1 header writer (lib/luks/luks1_writer.h): the same
// layout as libcryptsetup's, field for field, and a header that cryptsetup
// and QEMU open with the passphrase and only with it. (librbd opens it in
// tests/ceph, whose LUKS1 volumes are made by this writer.)
#include "lib/luks/luks1_writer.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <string>

#include "tests/support/test_support.h"
#include "volcrypt/luks.h"
#include "volcrypt/size_rule.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::MakeSparseFile;
using ::volcrypt::testing::RandomKey;
using ::volcrypt::testing::ReadFileOrDie;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::TempDir;

constexpr uint64_t kVolumeBytes = kLuks1PayloadOffsetBytes + (16 << 20);

// Writes a header made by our writer under `pass` at the start of a new
// sparse file `path`.
void WriteOwnHeader(const std::string& path, const SecretBytes& pass) {
  absl::StatusOr<luks::LuksHeaderImage> image =
      luks::LuksHeaderImage::Create(kLuks1PayloadOffsetBytes);
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_TRUE(luks::OwnLuks1WriterHandles(EncryptionSpec()));
  VOLCRYPT_ASSERT_OK(luks::WriteLuks1Image(EncryptionSpec(), pass, *image));
  MakeSparseFile(path, kVolumeBytes);
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  VOLCRYPT_EXPECT_OK(luks::WriteHeaderImage(fd, kVolumeBytes, *image, 512, path));
  close(fd);
}

TEST(Luks1WriterTest, LayoutIsLibcryptsetupsFieldForField) {
  TempDir dir;
  const std::string ours = dir.File("ours");
  const std::string theirs = dir.File("theirs");
  WriteOwnHeader(ours, HexPassphrase(RandomKey()));
  MakeSparseFile(theirs, kVolumeBytes);
  SecretBytes pass = HexPassphrase(RandomKey());
  testing::CommandResult format = RunCommand(
      {"cryptsetup", "luksFormat", "-q", "--type", "luks1", "--cipher", "aes-xts-plain64",
       "--key-size", "512", "--hash", "sha256", "--pbkdf-force-iterations", "1000",
       "--align-payload", "8192", "--key-file", "/dev/fd/3", theirs},
      &pass);
  ASSERT_EQ(format.exit_code, 0) << format.err;
  const std::string a = ReadFileOrDie(ours).substr(0, kLuks1PayloadOffsetBytes);
  const std::string b = ReadFileOrDie(theirs).substr(0, kLuks1PayloadOffsetBytes);
  // Random per header: MK digest and its salt (112-163), the UUID
  // (168-207), keyslot 0's salt (216-247).
  std::set<size_t> random;
  for (size_t i = 112; i < 164; ++i) random.insert(i);
  for (size_t i = 168; i < 208; ++i) random.insert(i);
  for (size_t i = 216; i < 248; ++i) random.insert(i);
  for (size_t i = 0; i < 592; ++i) {
    if (random.count(i) == 0) {
      EXPECT_EQ(a[i], b[i]) << "phdr byte " << i;
    }
  }
  // The UUID is a canonical lowercase v4 UUID, NUL-terminated.
  EXPECT_EQ(a[168 + 14], '4');
  EXPECT_EQ(a[168 + 36], '\0');
  // Zeros between the phdr and the first keyslot, and after the last.
  const size_t slots_end = (8 + 8 * 504) * 512;
  EXPECT_EQ(a.find_first_not_of('\0', 592), 4096u);
  EXPECT_EQ(b.find_first_not_of('\0', 592), 4096u);
  EXPECT_EQ(a.find_first_not_of('\0', slots_end), std::string::npos);
  EXPECT_EQ(b.find_first_not_of('\0', slots_end), std::string::npos);
}

TEST(Luks1WriterTest, CryptsetupAcceptsThePassphraseAndNoOther) {
  TempDir dir;
  const std::string path = dir.File("vol");
  SecretBytes pass = HexPassphrase(RandomKey());
  WriteOwnHeader(path, pass);
  testing::CommandResult dump = RunCommand({"cryptsetup", "luksDump", path});
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_NE(dump.out.find("Key Slot 0: ENABLED"), std::string::npos) << dump.out;
  EXPECT_NE(dump.out.find("Key Slot 1: DISABLED"), std::string::npos);
  testing::CommandResult right = RunCommand(
      {"cryptsetup", "open", "--test-passphrase", "--key-file", "/dev/fd/3", path}, &pass);
  EXPECT_EQ(right.exit_code, 0) << right.err;
  SecretBytes wrong = HexPassphrase(RandomKey());
  testing::CommandResult refused = RunCommand(
      {"cryptsetup", "open", "--test-passphrase", "--key-file", "/dev/fd/3", path}, &wrong);
  EXPECT_EQ(refused.exit_code, 2) << "a wrong passphrase opened the header";
}

TEST(Luks1WriterTest, QemuOpensItAndReadsBackWhatItWrote) {
  TempDir dir;
  const std::string path = dir.File("vol");
  SecretBytes pass = HexPassphrase(RandomKey());
  WriteOwnHeader(path, pass);
  auto qemu_io = [&](const SecretBytes& secret, const std::string& command) {
    return RunCommand({"qemu-io", "--object", "secret,id=sec0,file=/dev/fd/3", "--image-opts",
                       "driver=luks,key-secret=sec0,file.driver=file,file.filename=" + path,
                       "-c", command},
                      &secret);
  };
  testing::CommandResult write = qemu_io(pass, "write -P 0x5a 0 1M");
  ASSERT_EQ(write.exit_code, 0) << write.err;
  testing::CommandResult read = qemu_io(pass, "read -P 0x5a 0 1M");
  ASSERT_EQ(read.exit_code, 0) << read.err;
  EXPECT_EQ(read.out.find("Pattern verification failed"), std::string::npos) << read.out;
  // Encrypted at rest: the payload does not hold the pattern.
  EXPECT_EQ(ReadFileOrDie(path).find(std::string(512, '\x5a')), std::string::npos);
  testing::CommandResult wrong = qemu_io(HexPassphrase(RandomKey()), "read 0 512");
  EXPECT_NE(wrong.exit_code, 0) << "qemu opened it with a wrong passphrase";
}

TEST(Luks1WriterTest, HandlesOnlyTheMachineKeyXtsSpec) {
  EncryptionSpec spec;
  EXPECT_TRUE(luks::OwnLuks1WriterHandles(spec));
  spec.kdf = KdfPolicy::kPassphrase;
  EXPECT_FALSE(luks::OwnLuks1WriterHandles(spec));
  spec = EncryptionSpec();
  spec.format = LuksFormat::kLuks2;
  EXPECT_FALSE(luks::OwnLuks1WriterHandles(spec));
  spec = EncryptionSpec();
  spec.cipher = "aes-cbc-essiv:sha256";
  EXPECT_FALSE(luks::OwnLuks1WriterHandles(spec));
}

}  // namespace
}  // namespace volcrypt
