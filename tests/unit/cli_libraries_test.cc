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
  const std::vector<std::string> state = {"--state-dir", tmp.File("state")};
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

}  // namespace
}  // namespace volcrypt
