// How volcrypt's everyday calls grow with the number of records and keys:
// list, show, create, a key lookup by name and a reconcile that finds one
// crashed create, at 1,000 and 100,000 volumes (each with its own key in
// the file key manager, a SQLite store). Reproduce: bench/run.sh
// scale_bench (~4 minutes, much of it making the 100,000-record world).
//
// The worlds are made fast, not through the service: the records are
// copies of one real volume's row inserted in one SQLite transaction, the
// keys sealed files written without fsync (what a store writes, minus its
// syncs). Only the calls measured go through the library.
#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <memory>

#include "bench/bench_support.h"
#include "lib/keys/sealed_key_file.h"
#include "tests/support/embedded_stack.h"
#include "volcrypt/json.h"
#include "volcrypt/key_manager.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

using Embedded = testing::EmbeddedStack;

void Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "scale_bench: %s: %s\n", sql.c_str(), err ? err : "?");
    std::abort();
  }
}

// A world of `n` available volumes, volume "v-0" real, the rest its copies.
struct World {
  explicit World(int n) : dir(bench::ScratchDir() + "/scale-" + std::to_string(n)) {
    master = SecretBytes::Random(32).value();
    testing::EmbeddedStackOptions o;
    o.dir = dir;
    o.host = "bench";
    o.master_key = master.Clone();
    bench::Run({"mkdir", "-p", dir});
    stack = Embedded::Open(std::move(o)).value();
    CreateVolumeRequest r;
    r.id = "v-0";
    r.location = VolumeLocation::Path(dir + "/v-0");
    r.size_bytes = 1 << 20;
    const VolumeRecord first = stack->service().CreateVolume(r).value();
    (void)first;
    Populate(n);
  }

  void Populate(int n) {
    sqlite3* db = nullptr;
    if (sqlite3_open((dir + "/volumes.db").c_str(), &db) != SQLITE_OK) std::abort();
    sqlite3_busy_timeout(db, 10000);
    std::string cols;
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info('volumes')", -1, &st, nullptr);
    while (sqlite3_step(st) == SQLITE_ROW) {
      const std::string c = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      if (c != "id" && c != "path" && c != "encryption_key_id") cols += ", " + c;
    }
    sqlite3_finalize(st);
    Exec(db, "BEGIN");
    const std::string insert = "INSERT INTO volumes (id, path, encryption_key_id" + cols +
                               ") SELECT ?1, ?2, ?3" + cols + " FROM volumes WHERE id = 'v-0'";
    sqlite3_prepare_v2(db, insert.c_str(), -1, &st, nullptr);
    SecretBytes key = SecretBytes::Random(32).value();
    for (int i = 1; i < n; ++i) {
      const std::string id = "v-" + std::to_string(i);
      const std::string key_id = NewUuid().value();
      const std::string path = dir + "/" + id;
      SealedKeyHeader h{key_id, KeyNameForVolume(id), "AES", 256};
      std::ofstream(dir + "/keys/" + key_id + ".key", std::ios::binary)
          << SealKey(h, key, master).value();
      sqlite3_bind_text(st, 1, id.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 2, path.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 3, key_id.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(st) != SQLITE_DONE) std::abort();
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    Exec(db, "COMMIT");
    sqlite3_close(db);
    // The first lookup builds the name index, as after an upgrade; one
    // more, once the directory has been still for 2 s, stamps it
    // (lib/keys/key_name_index.h).
    (void)stack->keys().FindKeysByName("none");
    sleep(3);
    (void)stack->keys().FindKeysByName("none");
  }

  std::string dir;
  SecretBytes master;
  std::unique_ptr<Embedded> stack;
};

World& WorldOf(int n) {
  static std::map<int, std::unique_ptr<World>>* worlds =
      new std::map<int, std::unique_ptr<World>>;
  std::unique_ptr<World>& w = (*worlds)[n];
  if (!w) w = std::make_unique<World>(n);
  return *w;
}

// What `volume list` does in process: read every record, write the JSON.
void BM_List(benchmark::State& state) {
  World& w = WorldOf(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    absl::StatusOr<std::vector<VolumeRecord>> all = w.stack->store().ListVolumes({});
    if (!all.ok() || all->size() != static_cast<size_t>(state.range(0))) {
      state.SkipWithError("list failed");
      break;
    }
    std::string out;
    AppendVolumeListJson(*all, 2, [](std::string* b) { b->clear(); }, &out);
    benchmark::DoNotOptimize(out);
  }
}

// `volume show`: one record by id, as JSON.
void BM_Show(benchmark::State& state) {
  World& w = WorldOf(static_cast<int>(state.range(0)));
  int i = 0;
  for (auto _ : state) {
    absl::StatusOr<VolumeRecord> v =
        w.stack->store().GetVolume("v-" + std::to_string((i++ * 7919) % state.range(0)));
    if (!v.ok()) {
      state.SkipWithError("show failed");
      break;
    }
    benchmark::DoNotOptimize(VolumeToJson(*v));
  }
}

// A whole create of a 1 MiB file volume among N (its delete not timed).
void BM_Create(benchmark::State& state) {
  World& w = WorldOf(static_cast<int>(state.range(0)));
  int n = 0;
  for (auto _ : state) {
    CreateVolumeRequest r;
    r.id = "new-" + std::to_string(n++);
    r.location = VolumeLocation::Path(w.dir + "/" + r.id);
    r.size_bytes = 1 << 20;
    absl::StatusOr<VolumeRecord> v = w.stack->service().CreateVolume(r);
    state.PauseTiming();
    if (!v.ok()) state.SkipWithError(std::string(v.status().message()).c_str());
    (void)w.stack->service().DeleteVolume(r.id);
    state.ResumeTiming();
  }
}

// The key lookup every reconcile, rollback and migration item makes, in a
// key directory unchanged for 2 s or more.
void BM_FindKeysByName(benchmark::State& state) {
  World& w = WorldOf(static_cast<int>(state.range(0)));
  int i = 0;
  for (auto _ : state) {
    const std::string name =
        KeyNameForVolume("v-" + std::to_string(1 + (i++ * 7919) % (state.range(0) - 1)));
    absl::StatusOr<std::vector<std::string>> ids = w.stack->keys().FindKeysByName(name);
    if (!ids.ok() || ids->size() != 1) {
      state.SkipWithError("lookup failed");
      break;
    }
  }
}

// The same lookup right after the key directory changed (a key stored or
// deleted within 2 s): the index's stamp no longer holds, so the lookup
// lists the directory and checks every key file is indexed.
void BM_FindKeysByNameAfterAChange(benchmark::State& state) {
  World& w = WorldOf(static_cast<int>(state.range(0)));
  const std::string touch = w.dir + "/keys/.bench-touch";
  int i = 0;
  for (auto _ : state) {
    state.PauseTiming();
    close(open(touch.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
    unlink(touch.c_str());
    state.ResumeTiming();
    const std::string name =
        KeyNameForVolume("v-" + std::to_string(1 + (i++ * 7919) % (state.range(0) - 1)));
    absl::StatusOr<std::vector<std::string>> ids = w.stack->keys().FindKeysByName(name);
    if (!ids.ok() || ids->size() != 1) {
      state.SkipWithError("lookup failed");
      break;
    }
  }
}

// A reconcile pass over N records that finds one create killed after its
// key was stored: it looks the key up by name (the directory just changed:
// listed), deletes it and the record.
void BM_ReconcileOneCrashedCreate(benchmark::State& state) {
  World& w = WorldOf(static_cast<int>(state.range(0)));
  int n = 0;
  for (auto _ : state) {
    state.PauseTiming();
    VolumeRecord r;
    r.id = "crashed-" + std::to_string(n++);
    r.host = "bench";
    r.location = VolumeLocation::Path(w.dir + "/" + r.id);
    r.size_bytes = 1 << 20;
    r.status = VolumeStatus::kCreating;
    KeyRequest kr;
    kr.name = KeyNameForVolume(r.id);
    kr.bits = 256;
    const bool made = w.stack->store().CreateVolume(r).ok() &&
                      w.stack->keys().CreateKey(kr).ok();
    state.ResumeTiming();
    absl::StatusOr<int> done = w.stack->service().Reconcile(0);
    if (!made || !done.ok() || *done < 1) {
      state.SkipWithError("reconcile did not undo the crashed create");
      break;
    }
  }
}

BENCHMARK(BM_List)->Arg(1000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Show)->Arg(1000)->Arg(100000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Create)->Arg(1000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FindKeysByName)->Arg(1000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FindKeysByNameAfterAChange)->Arg(1000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReconcileOneCrashedCreate)->Arg(1000)->Arg(100000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace volcrypt

BENCHMARK_MAIN();
