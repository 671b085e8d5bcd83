// Key rotation: one volume's rekey (new key, keyslot added, record, old
// keyslot removed, old key deleted) against `cryptsetup luksChangeKey`, the
// one-keyslot change users run by hand, with the same KDF and with
// cryptsetup's defaults; and fleet rotation throughput (volumes per second)
// with the file key manager and SQLite. Reproduce: bench/run.sh rekey_bench.
#include <benchmark/benchmark.h>

#include <string>

#include "bench/bench_support.h"
#include "tests/support/embedded_stack.h"
#include "volcrypt/fleet_rotation.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

constexpr uint64_t kUsable = 64 << 20;
constexpr int kFleet = 50;

using Embedded = testing::EmbeddedStack;

Embedded& Shared() {
  static Embedded* e = [] {
    testing::EmbeddedStackOptions o;
    o.dir = bench::ScratchDir();
    o.host = "bench";
    return Embedded::Open(std::move(o)).value().release();
  }();
  return *e;
}

std::string Create(const std::string& id) {
  CreateVolumeRequest r;
  r.id = id;
  r.location = VolumeLocation::Path(bench::ScratchDir() + "/" + id);
  r.size_bytes = kUsable;
  absl::StatusOr<VolumeRecord> v = Shared().service().CreateVolume(r);
  return v.ok() ? "" : std::string(v.status().message());
}

void BM_VolcryptRekey(benchmark::State& state) {
  const std::string error = Create("rekey-one");
  if (!error.empty()) state.SkipWithError(error.c_str());
  for (auto _ : state) {
    absl::StatusOr<VolumeRecord> v = Shared().service().RotateKey("rekey-one");
    if (!v.ok()) state.SkipWithError(std::string(v.status().message()).c_str());
  }
  (void)Shared().service().DeleteVolume("rekey-one");
}

// cryptsetup luksChangeKey on a LUKS1 file: `pbkdf_args` empty for its
// defaults (PBKDF2 benchmarked to 2 s), or volcrypt's machine-key KDF.
void BM_CryptsetupLuksChangeKey(benchmark::State& state, bool machine_kdf) {
  SecretBytes a = bench::MachinePassphrase();
  SecretBytes b = bench::MachinePassphrase();
  const std::string path = bench::FreshFile("changekey.luks", kUsable + (4 << 20));
  std::vector<std::string> kdf;
  if (machine_kdf) kdf = {"--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"};
  std::vector<std::string> format = {"cryptsetup", "luksFormat", "--batch-mode", "--type",
                                     "luks1", "--key-file", "/dev/fd/3"};
  format.insert(format.end(), kdf.begin(), kdf.end());
  format.push_back(path);
  if (bench::Run(format, {&a}) != 0) state.SkipWithError("luksFormat failed");
  bool forward = true;
  for (auto _ : state) {
    std::vector<std::string> change = {"cryptsetup", "luksChangeKey", "--batch-mode",
                                       "--key-file", "/dev/fd/3"};
    change.insert(change.end(), kdf.begin(), kdf.end());
    change.push_back(path);
    change.push_back("/dev/fd/4");
    const SecretBytes* from = forward ? &a : &b;
    const SecretBytes* to = forward ? &b : &a;
    if (bench::Run(change, {from, to}) != 0) state.SkipWithError("luksChangeKey failed");
    forward = !forward;
  }
}

// keys rotate over kFleet volumes per iteration (made while paused).
void BM_VolcryptFleetRotation(benchmark::State& state) {
  int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    ++round;
    for (int i = 0; i < kFleet; ++i) {
      const std::string error = Create("fleet-" + std::to_string(round) + "-" + std::to_string(i));
      if (!error.empty()) state.SkipWithError(error.c_str());
    }
    FleetRotationOptions o;
    o.key_created_before = INT64_MAX;
    state.ResumeTiming();
    absl::StatusOr<FleetRotationReport> r =
        RotateFleetKeys(Shared().service(), Shared().store(), o);
    state.PauseTiming();
    if (!r.ok() || r->rotated != kFleet) state.SkipWithError("fleet rotation failed");
    for (int i = 0; i < kFleet; ++i) {
      (void)Shared().service().DeleteVolume("fleet-" + std::to_string(round) + "-" +
                                            std::to_string(i));
    }
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kFleet);
}

constexpr auto kMs = benchmark::kMillisecond;
BENCHMARK(BM_VolcryptRekey)->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_CryptsetupLuksChangeKey, machine_kdf, true)->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_CryptsetupLuksChangeKey, defaults, false)
    ->Unit(kMs)->UseRealTime()->Iterations(2);
BENCHMARK(BM_VolcryptFleetRotation)->Unit(kMs)->UseRealTime()->Iterations(2);

}  // namespace
}  // namespace volcrypt

BENCHMARK_MAIN();
