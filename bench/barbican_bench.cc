// BarbicanKeyManager latency against a real Barbican server on loopback
// (started by tests/scripts/barbican.sh: barbican-api, SQLite, simple_crypto),
// and through Keystone (tests/scripts/openstack.sh).
// Reproduce: bench/run.sh barbican_bench.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bench/bench_support.h"
#include "volcrypt/barbican_key_manager.h"
#include "volcrypt/keystone_auth.h"

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

KeyRequest Request() {
  KeyRequest r;
  r.name = "bench";
  return r;
}

void BM_BarbicanCreate(benchmark::State& state) {
  Server& s = bench::RunWide<Server>();
  if (!s.keys) return state.SkipWithError("no Barbican server");
  for (auto _ : state) {
    if (!s.keys->CreateKey(Request()).ok()) state.SkipWithError("create failed");
  }
}

void BM_BarbicanGet(benchmark::State& state) {
  Server& s = bench::RunWide<Server>();
  if (!s.keys) return state.SkipWithError("no Barbican server");
  const std::string id = s.keys->CreateKey(Request()).value().id;
  for (auto _ : state) {
    if (!s.keys->GetKey(id).ok()) state.SkipWithError("get failed");
  }
}

void BM_BarbicanDelete(benchmark::State& state) {
  Server& s = bench::RunWide<Server>();
  if (!s.keys) return state.SkipWithError("no Barbican server");
  for (auto _ : state) {
    state.PauseTiming();
    const std::string id = s.keys->CreateKey(Request()).value().id;
    state.ResumeTiming();
    if (!s.keys->DeleteKey(id).ok()) state.SkipWithError("delete failed");
  }
}

// The same through Keystone (tests/scripts/openstack.sh: Barbican validates
// every token with Keystone, no token cache), and what a token costs.
struct OpenStack {
  OpenStack() : services("openstack.sh") {
    if (services.address().empty()) return;
    std::ifstream in(bench::ScratchDir() + "/openstack.sh/keystone/credentials.json");
    std::stringstream text;
    text << in.rdbuf();
    credentials = nlohmann::json::parse(text.str(), nullptr, false);
    session = NewSession();
    BarbicanOptions o;
    o.keystone = session;
    keys = std::move(NewBarbicanKeyManager(o, nullptr).value());
  }
  std::shared_ptr<KeystoneSession> NewSession() const {
    KeystoneOptions k;
    k.auth_url = services.address();
    k.username = "volcrypt";
    const std::string password = credentials["volcrypt"]["password"];
    k.password = SecretBytes::CopyOf(password.data(), password.size());
    k.project_name = "volumes";
    return std::move(KeystoneSession::Create(std::move(k)).value());
  }
  bench::ScriptService services;
  nlohmann::json credentials;
  std::shared_ptr<KeystoneSession> session;
  std::unique_ptr<KeyManager> keys;
};

void BM_KeystoneIssueToken(benchmark::State& state) {
  OpenStack& os = bench::RunWide<OpenStack>();
  if (!os.keys) return state.SkipWithError("no Keystone");
  for (auto _ : state) {
    if (!os.NewSession()->Token().ok()) state.SkipWithError("token failed");
  }
}

void BM_BarbicanWithKeystoneCreate(benchmark::State& state) {
  OpenStack& os = bench::RunWide<OpenStack>();
  if (!os.keys) return state.SkipWithError("no Keystone");
  for (auto _ : state) {
    if (!os.keys->CreateKey(Request()).ok()) state.SkipWithError("create failed");
  }
}

void BM_BarbicanWithKeystoneGet(benchmark::State& state) {
  OpenStack& os = bench::RunWide<OpenStack>();
  if (!os.keys) return state.SkipWithError("no Keystone");
  const std::string id = os.keys->CreateKey(Request()).value().id;
  for (auto _ : state) {
    if (!os.keys->GetKey(id).ok()) state.SkipWithError("get failed");
  }
}

BENCHMARK(BM_BarbicanCreate)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BarbicanGet)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BarbicanDelete)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_KeystoneIssueToken)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BarbicanWithKeystoneCreate)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BarbicanWithKeystoneGet)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace volcrypt

BENCHMARK_MAIN();
