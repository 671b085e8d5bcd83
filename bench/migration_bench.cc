// Fixed-key migration throughput against a real Barbican (barbican.sh) with
// the volume database in SQLite and in a real PostgreSQL (postgres.sh), for
// 1000 volumes; compared, in the same run, with python3-barbicanclient
// storing the same number of secrets (castellan's transport: the one POST
// per item that cinder's migration costs at least).
// Reproduce: bench/run.sh migration_bench   (about 4 minutes)
#include <benchmark/benchmark.h>
#include <libpq-fe.h>

#include <chrono>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "bench/bench_support.h"
#include "volcrypt/barbican_key_manager.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/fixed_key_manager.h"
#include "volcrypt/key_migration.h"

namespace volcrypt {
namespace {

struct Services {
  Services() : barbican("barbican.sh"), postgres("postgres.sh") {}
  bench::ScriptService barbican;
  bench::ScriptService postgres;
};

int g_run = 0;

// A fresh volume database holding `n` volumes on the fixed key.
std::unique_ptr<VolumeStore> FreshStore(bool postgres, int n) {
  const std::string name = absl::StrCat("migration_bench_", getpid(), "_", ++g_run);
  absl::StatusOr<std::unique_ptr<VolumeStore>> store;
  if (postgres) {
    const std::string& server = bench::RunWide<Services>().postgres.address();
    PGconn* admin = PQconnectdb(server.c_str());
    PQclear(PQexec(admin, ("CREATE DATABASE " + name).c_str()));
    PQfinish(admin);
    store = OpenPostgresVolumeStore(server + " dbname=" + name);
  } else {
    store = OpenSqliteVolumeStore(bench::ScratchDir() + "/" + name + ".db");
  }
  if (!store.ok()) return nullptr;
  for (int i = 0; i < n; ++i) {
    VolumeRecord v;
    v.id = absl::StrCat("vol-", i);
    v.host = "bench-host";
    v.location = VolumeLocation::Path("/vols/" + v.id);
    v.size_bytes = 1 << 30;
    v.encryption_key_id = kFixedKeyId;
    v.status = VolumeStatus::kAvailable;
    if (!(*store)->CreateVolume(v).ok()) return nullptr;
  }
  return std::move(*store);
}

void BM_MigrateFixedKeys(benchmark::State& state, bool postgres) {
  Services& s = bench::RunWide<Services>();
  if (s.barbican.address().empty()) return state.SkipWithError("no Barbican");
  if (postgres && s.postgres.address().empty()) return state.SkipWithError("no PostgreSQL");
  const int n = static_cast<int>(state.range(0));
  std::unique_ptr<KeyManager> fixed =
      NewFixedKeyManager(SecretBytes::Random(32).value(), NullLogger());
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<VolumeStore> store = FreshStore(postgres, n);
    BarbicanOptions o;
    o.endpoint = s.barbican.address();
    o.project_id = absl::StrCat("bench-", g_run);  // a clean project each run
    std::unique_ptr<KeyManager> barbican =
        std::move(NewBarbicanKeyManager(o, NullLogger()).value());
    KeyMigrationOptions mo;
    mo.host = "bench-host";
    state.ResumeTiming();
    absl::StatusOr<KeyMigrationReport> r =
        MigrateFixedKeyItems(*store, fixed.get(), *barbican, mo, NullLogger());
    if (!r.ok() || r->migrated != n) state.SkipWithError("migration failed");
  }
  state.counters["items_per_second"] =
      benchmark::Counter(static_cast<double>(n) * state.iterations(),
                         benchmark::Counter::kIsRate);
}

// The embedded case: the same migration into a FileKeyManager (no server).
void BM_MigrateFixedKeysToFileKeys(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::unique_ptr<KeyManager> fixed =
      NewFixedKeyManager(SecretBytes::Random(32).value(), NullLogger());
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<VolumeStore> store = FreshStore(false, n);
    std::unique_ptr<KeyManager> keys = std::move(
        NewFileKeyManager(absl::StrCat(bench::ScratchDir(), "/keys-", g_run),
                          SecretBytes::Random(32).value(), NullLogger()).value());
    KeyMigrationOptions mo;
    mo.host = "bench-host";
    mo.destination_name = "the file key manager";
    state.ResumeTiming();
    absl::StatusOr<KeyMigrationReport> r =
        MigrateFixedKeyItems(*store, fixed.get(), *keys, mo, NullLogger());
    if (!r.ok() || r->migrated != n) state.SkipWithError("migration failed");
  }
  state.counters["items_per_second"] =
      benchmark::Counter(static_cast<double>(n) * state.iterations(),
                         benchmark::Counter::kIsRate);
}

// What cinder's migration costs at least: castellan's client storing one
// secret per item (no lookup, read-back, consumer or database update).
constexpr char kBarbicanclientStore[] = R"py(
import os, sys
from barbicanclient import client
from keystoneauth1 import session
c = client.Client(session=session.Session(), endpoint=sys.argv[1], project_id=sys.argv[2])
key = os.urandom(32)
for i in range(int(sys.argv[3])):
    c.secrets.create(name="bench-%d" % i, payload=key, algorithm="AES",
                     bit_length=256, secret_type="symmetric").store()
)py";

void BM_BarbicanclientStoreSecrets(benchmark::State& state) {
  Services& s = bench::RunWide<Services>();
  if (s.barbican.address().empty()) return state.SkipWithError("no Barbican");
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    if (bench::Run({"/usr/bin/python3", "-c", kBarbicanclientStore, s.barbican.address(),
                    absl::StrCat("client-", ++g_run), std::to_string(n)}) != 0) {
      state.SkipWithError("barbicanclient failed");
    }
  }
  state.counters["items_per_second"] =
      benchmark::Counter(static_cast<double>(n) * state.iterations(),
                         benchmark::Counter::kIsRate);
}

BENCHMARK_CAPTURE(BM_MigrateFixedKeys, sqlite, false)
    ->Arg(1000)->Iterations(1)->Repetitions(3)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_MigrateFixedKeys, postgres, true)
    ->Arg(1000)->Iterations(1)->Repetitions(3)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK(BM_MigrateFixedKeysToFileKeys)
    ->Arg(1000)->Iterations(1)->Repetitions(3)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK(BM_BarbicanclientStoreSecrets)
    ->Arg(1000)->Iterations(1)->Repetitions(3)->Unit(benchmark::kSecond)->UseRealTime();

}  // namespace
}  // namespace volcrypt

BENCHMARK_MAIN();
