// lib/modules/module_loader.h: what a missing, foreign or broken module
// gives (never a crash, never a call into it), and that the backends this
// build has load from the build tree.
#include "lib/modules/module_loader.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cerrno>
#include <fstream>
#include <string>

#include "tests/support/test_support.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace {

using testing::TempDir;

// Each test asks for its own module name: a process remembers every answer.
class ModuleLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override { setenv("VOLCRYPT_MODULE_DIR", dir_.path().c_str(), 1); }
  void TearDown() override { unsetenv("VOLCRYPT_MODULE_DIR"); }
  TempDir dir_;
};

TEST_F(ModuleLoaderTest, AMissingModuleIsNotSupportedAndNamesWhereItLooked) {
  absl::StatusOr<const void*> m = LoadModule("absent", "connect to nowhere");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(ErrnoOf(m.status()), ENOTSUP);
  const std::string msg(m.status().message());
  EXPECT_NE(msg.find("connect to nowhere: volcrypt module volcrypt-absent.so"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find(dir_.File("volcrypt-absent.so") + ": not there"), std::string::npos) << msg;
}

TEST_F(ModuleLoaderTest, ARelativeModuleDirectoryIsIgnored) {
  setenv("VOLCRYPT_MODULE_DIR", "relative/dir", 1);
  absl::StatusOr<const void*> m = LoadModule("relative", "use it");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message().find("relative/dir"), absl::string_view::npos)
      << m.status().message();
}

TEST_F(ModuleLoaderTest, ALibraryWithoutThisVersionsEntryIsRefusedNotCalled) {
  // A real shared object, but no volcrypt_module_foreign_<abi>: as a module
  // of another volcrypt version would be.
  const std::string fake = dir_.File("volcrypt-foreign.so");
  std::ifstream in("/lib/x86_64-linux-gnu/libz.so.1", std::ios::binary);
  ASSERT_TRUE(in.good());
  std::ofstream(fake, std::ios::binary) << in.rdbuf();
  absl::StatusOr<const void*> m = LoadModule("foreign", "use it");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(ErrnoOf(m.status()), ENOTSUP);
  EXPECT_NE(m.status().message().find(fake + ": not a module of this volcrypt"),
            absl::string_view::npos)
      << m.status().message();
}

TEST_F(ModuleLoaderTest, AFileThatIsNoLibraryGivesTheLoadersErrorOnce) {
  std::ofstream(dir_.File("volcrypt-garbage.so")) << "not an ELF file\n";
  absl::StatusOr<const void*> first = LoadModule("garbage", "use it");
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(ErrnoOf(first.status()), ENOTSUP);
  EXPECT_NE(first.status().message().find("volcrypt-garbage.so"), absl::string_view::npos);
  // Remembered: a second call answers the same without loading again.
  absl::StatusOr<const void*> again = LoadModule("garbage", "use it again");
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("use it again: "), absl::string_view::npos);
}

#if VOLCRYPT_TEST_HAVE_RBD
TEST_F(ModuleLoaderTest, TheBuildTreesOwnModuleLoadsWhenTheDirectoryHasNone) {
  // $VOLCRYPT_MODULE_DIR is empty: the build tree's lib/ comes next.
  absl::StatusOr<const void*> m = LoadModule("rbd", "connect to Ceph");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_NE(*m, nullptr);
  EXPECT_NE(static_cast<const RbdModule*>(*m)->connect, nullptr);
}

// libceph-common dlopens its plugins (here the zstd compressor a cluster
// with on-wire compression makes it load), which take its symbols from the
// global scope: a module loaded RTLD_LOCAL left them undefined.
TEST_F(ModuleLoaderTest, CephsOwnPluginsLoadBesideTheRbdModule) {
  ASSERT_TRUE(LoadModule("rbd", "connect to Ceph").ok());
  void* plugin = dlopen("/usr/lib/x86_64-linux-gnu/ceph/compressor/libceph_zstd.so",
                        RTLD_NOW | RTLD_LOCAL);
  EXPECT_NE(plugin, nullptr) << dlerror();
}
#endif

}  // namespace
}  // namespace volcrypt
