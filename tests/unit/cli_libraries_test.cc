// Which shared libraries a CLI process maps, as the dynamic loader reports
// them (LD_DEBUG=files: at start and at every dlopen). Commands on mapped
// volumes with the embedded defaults (file keys, SQLite) must map none of
// the backends' heavy libraries: those live in modules (lib/modules) loaded
// only by the commands that use them (issue #16: `volcrypt help` paid ~35 ms
// loading librbd, libvirt, libcurl and libpq).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace volcrypt {
namespace {

using testing::CommandResult;
using testing::RunCommand;
using testing::TempDir;

std::string Cli() {
  const char* path = std::getenv("VOLCRYPT_CLI");
  return path ? path : "volcrypt";
}

// Runs the CLI under LD_DEBUG=files; returns its result (stderr has the
// loader's lines "file=<name> [0];  needed by ..." / "dynamically loaded by").
CommandResult RunTraced(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"env", "LD_DEBUG=files", Cli()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

void ExpectNoBackendLibraries(const CommandResult& r, const std::string& command) {
  ASSERT_NE(r.err.find("file="), std::string::npos)
      << command << ": the loader reported nothing (LD_DEBUG ignored?)";
  for (const char* lib : {"file=librbd", "file=librados", "file=libvirt.", "file=libcurl",
                          "file=libpq", "volcrypt-rbd.so", "volcrypt-libvirt.so",
                          "volcrypt-barbican.so", "volcrypt-postgres.so"}) {
    EXPECT_EQ(r.err.find(lib), std::string::npos) << command << " mapped " << lib;
  }
}

TEST(CliLibrariesTest, MappedVolumeCommandsOnTheDefaultsMapNoBackendLibrary) {
  TempDir tmp;
  const std::vector<std::string> state = {"--state-dir", tmp.File("state")};
  auto with_state = [&](std::vector<std::string> args) {
    args.insert(args.begin(), state.begin(), state.end());
    return args;
  };

  CommandResult help = RunTraced({"help"});
  EXPECT_EQ(help.exit_code, 0);
  ExpectNoBackendLibraries(help, "help");

  CommandResult create = RunTraced(with_state(
      {"volume", "create", "--path", tmp.File("v1.img"), "--size", "64M", "--id", "v1"}));
  ASSERT_EQ(create.exit_code, 0);
  ExpectNoBackendLibraries(create, "volume create");

  CommandResult show = RunTraced(with_state({"volume", "show", "v1"}));
  EXPECT_EQ(show.exit_code, 0);
  EXPECT_NE(show.out.find("v1"), std::string::npos);
  ExpectNoBackendLibraries(show, "volume show");

  CommandResult list = RunTraced(with_state({"volume", "list"}));
  EXPECT_EQ(list.exit_code, 0);
  ExpectNoBackendLibraries(list, "volume list");

  // Not `volume delete`: it asks libvirt at the default URI whether a domain
  // still uses the volume, and so loads the libvirt module by design.
}

#if VOLCRYPT_TEST_HAVE_LIBVIRT
// A CLI built with libvirt whose libvirt module is gone is a broken install:
// `volume delete` must refuse rather than skip its check that no domain uses
// the volume. The CLI is copied out of the build tree (whose lib/ it would
// otherwise load from), and named there by argv[0] to show that argv[0],
// which any caller writes, does not choose where modules come from.
TEST(CliLibrariesTest, DeleteRefusesWhenTheLibvirtModuleCannotBeLoaded) {
  TempDir tmp;
  const std::string cli = tmp.File("volcrypt");
  ASSERT_EQ(RunCommand({"cp", Cli(), cli}).exit_code, 0);
  CommandResult create = RunCommand({Cli(), "--state-dir", tmp.File("state"), "volume", "create",
                                     "--path", tmp.File("v1.img"), "--size", "16M", "--id",
                                     "v1"});
  ASSERT_EQ(create.exit_code, 0) << create.err;
  CommandResult del = RunCommand({"env", "VOLCRYPT_MODULE_DIR=" + tmp.File("no-modules"),
                                  "bash", "-c", "exec -a \"$0\" \"$@\"", Cli(), cli,
                                  "--state-dir", tmp.File("state"), "volume", "delete", "v1"});
  EXPECT_NE(del.exit_code, 0);
  EXPECT_NE(del.err.find("volcrypt-libvirt.so cannot be loaded"), std::string::npos) << del.err;
  EXPECT_EQ(del.err.find("unreachable"), std::string::npos) << del.err;
  CommandResult show = RunCommand({Cli(), "--state-dir", tmp.File("state"), "volume", "show",
                                   "v1"});
  EXPECT_EQ(show.exit_code, 0) << "the volume is gone: " << show.err;
}
#endif

// libcryptsetup (and what it pulls in: libdevmapper, libudev, libselinux...)
// is dlopen'ed by the first LUKS call (lib/luks/cryptsetup_loader.h), and
// the CLI links Abseil statically: `help` and `volume show` map neither,
// nor libxml2 (lib/attach/libxml_loader.h). A LUKS1 create, whose header
// volcrypt writes itself (luks1_writer.h), never loads libcryptsetup;
// `volume verify`, which unlocks through it, loads it at run time.
TEST(CliLibrariesTest, HelpAndShowMapNoLibcryptsetupAndNoSharedAbseil) {
  TempDir tmp;
  const std::string state = tmp.File("state");
  CommandResult create = RunTraced({"--state-dir", state, "volume", "create", "--path",
                                    tmp.File("v1.img"), "--size", "64M", "--format", "luks1",
                                    "--id", "v1"});
  ASSERT_EQ(create.exit_code, 0) << create.err.substr(0, 2000);
  EXPECT_EQ(create.err.find("file=libcryptsetup"), std::string::npos)
      << "a LUKS1 create mapped libcryptsetup";
  CommandResult verify = RunTraced({"--state-dir", state, "volume", "verify", "v1"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  EXPECT_NE(verify.err.find("file=libcryptsetup.so.12 [0];  dynamically loaded by"),
            std::string::npos)
      << "verify did not dlopen libcryptsetup";
  EXPECT_EQ(verify.err.find("file=libcryptsetup.so.12 [0];  needed by"), std::string::npos)
      << "libcryptsetup is linked at load time";
  CommandResult is_luks =
      RunCommand({"cryptsetup", "isLuks", "--type", "luks1", tmp.File("v1.img")});
  EXPECT_EQ(is_luks.exit_code, 0) << "cryptsetup does not read the header";
  // libxml2 (with ICU) likewise: dlopen'ed by the XML it writes and parses.
  CommandResult xml = RunTraced({"--state-dir", state, "attach-xml", "v1"});
  EXPECT_EQ(xml.exit_code, 0) << xml.out;
  EXPECT_NE(xml.out.find("<secret"), std::string::npos);
  EXPECT_NE(xml.err.find("file=libxml2.so.2 [0];  dynamically loaded by"), std::string::npos)
      << "attach-xml did not dlopen libxml2";
  EXPECT_EQ(xml.err.find("file=libxml2.so.2 [0];  needed by"), std::string::npos)
      << "libxml2 is linked at load time";

  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"help"},
        std::vector<std::string>{"--state-dir", state, "volume", "show", "v1"}}) {
    CommandResult r = RunTraced(args);
    EXPECT_EQ(r.exit_code, 0) << args.back();
    ASSERT_NE(r.err.find("file="), std::string::npos);
    for (const char* lib :
         {"file=libcryptsetup", "file=libdevmapper", "file=libabsl_", "file=libxml2"}) {
      EXPECT_EQ(r.err.find(lib), std::string::npos) << args.back() << " mapped " << lib;
    }
  }
}

}  // namespace
}  // namespace volcrypt
