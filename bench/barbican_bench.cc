// BarbicanKeyManager latency against a real Barbican server on loopback
// (started by tests/scripts/barbican.sh: barbican-api, SQLite, simple_crypto).
// Reproduce: bench/run.sh barbican_bench.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "bench/bench_support.h"
#include "volcrypt/barbican_key_manager.h"

namespace volcrypt {
namespace {

struct Server {
  Server() : barbican("barbican.sh") {
    if (barbican.address().empty()) return;
    BarbicanOptions o;
    o.endpoint = barbican.address();
    o.project_id = "bench";
    keys = std::move(NewBarbicanKeyManager(o, nullptr).value());
  }
  bench::ScriptService barbican;
  std::unique_ptr<KeyManager> keys;
};

Server& TheServer() {
  static Server* s = new Server;
  static const int registered = std::atexit([] { delete s; });
  (void)registered;
  return *s;
}

KeyRequest Request() {
  KeyRequest r;
  r.name = "bench";
  return r;
}

void BM_BarbicanCreate(benchmark::State& state) {
  Server& s = TheServer();
  if (!s.keys) return state.SkipWithError("no Barbican server");
  for (auto _ : state) {
    if (!s.keys->CreateKey(Request()).ok()) state.SkipWithError("create failed");
  }
}

void BM_BarbicanGet(benchmark::State& state) {
  Server& s = TheServer();
  if (!s.keys) return state.SkipWithError("no Barbican server");
  const std::string id = s.keys->CreateKey(Request()).value();
  for (auto _ : state) {
    if (!s.keys->GetKey(id).ok()) state.SkipWithError("get failed");
  }
}

void BM_BarbicanDelete(benchmark::State& state) {
  Server& s = TheServer();
  if (!s.keys) return state.SkipWithError("no Barbican server");
  for (auto _ : state) {
    state.PauseTiming();
    const std::string id = s.keys->CreateKey(Request()).value();
    state.ResumeTiming();
    if (!s.keys->DeleteKey(id).ok()) state.SkipWithError("delete failed");
  }
}

BENCHMARK(BM_BarbicanCreate)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BarbicanGet)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BarbicanDelete)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace volcrypt

BENCHMARK_MAIN();
