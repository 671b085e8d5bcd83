// The process tests/ceph/live_migration_test.cc kills: `volcrypt domain
// migrate` (volcrypt::MigrateDomain) over the real components of a CLI state
// directory, the store, key manager and both libvirt connections behind
// their fault wrappers, SIGKILLing itself at the Nth step it meets
// (FaultPlan::KillAtStep). A separate program, since libvirt's threads do
// not survive a fork.
//
//   live_migration_crash_child --state DIR --host H --kill-at N
//       DOMAIN SOURCE_URI DEST_URI DEST_HOST MIGRATE_URI
//
// Prints the steps it met, one per line; its status on stderr; exit 0 if
// the migration succeeded, 1 if not, 2 on bad usage.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/faults.h"
#include "volcrypt/attacher.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/mapped_backend.h"
#include "volcrypt/migration.h"
#include "volcrypt/volume_service.h"

using namespace volcrypt;
using volcrypt::testing::FaultPlan;

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  int i = 1;
  for (; i + 1 < argc && std::string(argv[i]).rfind("--", 0) == 0; i += 2) {
    flags[std::string(argv[i]).substr(2)] = argv[i + 1];
  }
  const std::vector<std::string> a(argv + i, argv + argc);
  if (a.size() != 5 || flags["state"].empty()) {
    std::fprintf(stderr, "usage: --state DIR --host H --kill-at N DOMAIN SRC DEST HOST URI\n");
    return 2;
  }
  const std::string state = flags["state"];
  absl::StatusOr<SecretBytes> master = ReadMasterKeyFile(state + "/master.key");
  if (!master.ok()) return 2;
  auto keys = NewFileKeyManager(state + "/keys", std::move(*master), nullptr);
  auto store = OpenSqliteVolumeStore(state + "/volumes.db");
  auto source = Attacher::Connect(a[1]);
  auto dest = Attacher::Connect(a[2]);
  if (!keys.ok() || !store.ok() || !source.ok() || !dest.ok()) return 2;
  std::unique_ptr<BlockBackend> mapped = NewMappedBackend();

  FaultPlan plan;
  plan.KillAtStep(std::atoi(flags["kill-at"].c_str()));
  volcrypt::testing::FaultyKeyManager faulty_keys(keys->get(), &plan);
  volcrypt::testing::FaultyStore faulty_store(store->get(), &plan);
  volcrypt::testing::FaultyAttacher faulty_source(source->get(), &plan);
  volcrypt::testing::FaultyAttacher faulty_dest(dest->get(), &plan);
  VolumeServiceOptions o;
  o.keys = &faulty_keys;
  o.store = &faulty_store;
  o.mapped = mapped.get();
  o.attacher = &faulty_source;
  o.host = flags["host"];
  o.logger = NullLogger();
  auto service = VolumeService::Create(o);
  if (!service.ok()) return 2;
  DomainMigrationOptions m;
  m.domain = a[0];
  m.source_uri = a[1];
  m.destination_uri = a[2];
  m.destination_host = a[3];
  m.migrate_uri = a[4];
  const absl::Status s = MigrateDomain(**service, faulty_dest, m).status();
  for (const std::string& step : plan.trace()) std::printf("%s\n", step.c_str());
  std::fprintf(stderr, "%s\n", s.ToString().c_str());
  return s.ok() ? 0 : 1;
}
