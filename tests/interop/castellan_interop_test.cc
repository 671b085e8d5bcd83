// The fixed key as OpenStack reads it: castellan's SymmetricKey built from
// unhexlify(fixed_key), and os-brick's passphrase hexlify(key.get_encoded()),
// computed by the real python3-castellan, equal ours byte for byte.
#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"
#include "volcrypt/fixed_key_manager.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::TempDir;

// Reads the config-form fixed key from argv[1] and our passphrase from fd 3;
// exits 0 if castellan + os-brick derive the same passphrase.
constexpr char kCompare[] = R"py(
import binascii, sys
from castellan.common.objects import symmetric_key
with open(sys.argv[1]) as f:
    raw = binascii.unhexlify(f.read().strip())
key = symmetric_key.SymmetricKey('AES', len(raw) * 8, raw)
passphrase = binascii.hexlify(key.get_encoded()).decode('utf-8')
with open('/dev/fd/3') as f:
    ours = f.read()
sys.exit(0 if ours == passphrase else 1)
)py";

TEST(CastellanInteropTest, FixedKeyPassphraseMatchesCastellanAndOsBrick) {
  if (RunCommand({"/usr/bin/python3", "-c", "import castellan"}).exit_code != 0) {
    GTEST_SKIP() << "python3-castellan is not installed";
  }
  TempDir tmp;
  const std::string path = tmp.File("fixed_key");
  for (size_t bytes : {16u, 32u, 64u}) {
    const SecretBytes key = SecretBytes::Random(bytes).value();
    {
      std::ofstream out(path);
      const SecretBytes hex = HexPassphrase(key);
      out << "  " << std::string(hex.char_data(), hex.size()) << "\n";
    }
    chmod(path.c_str(), 0600);
    auto keys = NewFixedKeyManager(ReadFixedKeyFile(path).value(), NullLogger());
    const SecretBytes ours = HexPassphrase(keys->GetKey(kFixedKeyId).value());
    auto r = RunCommand({"/usr/bin/python3", "-c", kCompare, path}, &ours);
    EXPECT_EQ(r.exit_code, 0) << bytes << "-byte key: " << r.err;
    // And a different key does not match (the comparison is real).
    const SecretBytes other = HexPassphrase(SecretBytes::Random(bytes).value());
    EXPECT_EQ(RunCommand({"/usr/bin/python3", "-c", kCompare, path}, &other).exit_code, 1);
  }
}

}  // namespace
}  // namespace volcrypt
