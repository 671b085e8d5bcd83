// Per-call overhead of the C ABI against the C++ API, on a cheap call: the
// attach plan of a file volume (record read, key read, two XML documents).
// Reproduce: bench/run.sh capi_bench (a few seconds).
#include <benchmark/benchmark.h>

#include <sys/stat.h>

#include <cstring>

#include "bench/bench_support.h"
#include "volcrypt.h"
#include "tests/support/embedded_stack.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

// The same state directory, opened once through each API.
struct Both {
  Both() {
    const std::string dir = bench::ScratchDir();
    bench::WriteText(dir + "/master.key", std::string(64, 'a'));
    chmod((dir + "/master.key").c_str(), 0600);
    char* err = nullptr;
    volcrypt_keys_open_file((dir + "/keys").c_str(), (dir + "/master.key").c_str(), &ckeys, &err);
    volcrypt_store_open_sqlite((dir + "/volumes.db").c_str(), &cstore, &err);
    volcrypt_backend_open_mapped(&cmapped, &err);
    volcrypt_service_options_t o = {sizeof o, ckeys, cstore, cmapped, nullptr, nullptr, "bench"};
    volcrypt_service_create(&o, &csvc, &err);
    volcrypt_create_request_t r;
    std::memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    r.id = "plan";
    const std::string path = dir + "/plan";
    r.path = path.c_str();
    r.size_bytes = 16 << 20;
    char* json = nullptr;
    ok = volcrypt_volume_create(csvc, &r, &json, &err) == 0;
    volcrypt_free(json);

    testing::EmbeddedStackOptions so;
    so.dir = dir;
    so.host = "bench";
    so.master_key = SecretFromHex(std::string(64, 'a')).value();
    cxx = std::move(testing::EmbeddedStack::Open(std::move(so)).value());
  }
  bool ok = false;
  volcrypt_keys_t* ckeys = nullptr;
  volcrypt_store_t* cstore = nullptr;
  volcrypt_backend_t* cmapped = nullptr;
  volcrypt_service_t* csvc = nullptr;
  std::unique_ptr<testing::EmbeddedStack> cxx;
};

Both& TheBoth() {
  static Both* b = new Both;
  return *b;
}

void BM_CxxPlanAttach(benchmark::State& state) {
  Both& b = TheBoth();
  for (auto _ : state) {
    absl::StatusOr<AttachPlan> plan = b.cxx->service().PlanAttach("plan", {});
    if (!plan.ok()) state.SkipWithError("plan failed");
    benchmark::DoNotOptimize(plan);
  }
}

void BM_CPlanAttach(benchmark::State& state) {
  Both& b = TheBoth();
  if (!b.ok) return state.SkipWithError("C ABI set-up failed");
  for (auto _ : state) {
    char *sx = nullptr, *dx = nullptr;
    unsigned char pass[128];
    size_t len = sizeof pass;
    if (volcrypt_volume_attach_plan(b.csvc, "plan", nullptr, &sx, &dx, pass, &len, nullptr) != 0) {
      state.SkipWithError("plan failed");
    }
    volcrypt_wipe(pass, sizeof pass);
    volcrypt_free(sx);
    volcrypt_free(dx);
  }
}

BENCHMARK(BM_CxxPlanAttach)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CPlanAttach)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace volcrypt

BENCHMARK_MAIN();
