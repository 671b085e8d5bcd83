// The LUKS header and keyslot path: volcrypt against the tools users would
// otherwise run (cryptsetup), in the same run, on the same kind of file.
// Reproduce: bench/run.sh luks_bench (see docs/performance.md).
#include <benchmark/benchmark.h>

#include "bench/bench_support.h"
#include "volcrypt/luks.h"
#include "volcrypt/mapped_backend.h"

namespace volcrypt {
namespace {

constexpr uint64_t kVolumeBytes = 64 << 20;

EncryptionSpec Spec(LuksFormat format, KdfPolicy kdf) {
  EncryptionSpec spec;
  spec.format = format;
  spec.kdf = kdf;
  return spec;
}

const char* TypeFlag(LuksFormat format) {
  return format == LuksFormat::kLuks1 ? "luks1" : "luks2";
}

void Check(benchmark::State& state, const absl::Status& s) {
  if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
}

// volcrypt: build the header image and write it to a fresh 64 MiB file.
void BM_VolcryptFormat(benchmark::State& state, LuksFormat format, KdfPolicy kdf) {
  SecretBytes pass = bench::MachinePassphrase();
  luks::FormatOptions force;
  force.force = true;
  const std::string path = bench::FreshFile("volcrypt-format", kVolumeBytes);
  for (auto _ : state) {
    Check(state, luks::FormatPath(path, Spec(format, kdf), pass, force));
  }
}

// volcrypt: the header image alone, in memory (what RbdBackend writes).
void BM_VolcryptBuildHeaderImage(benchmark::State& state, LuksFormat format) {
  SecretBytes pass = bench::MachinePassphrase();
  for (auto _ : state) {
    auto image = luks::BuildHeaderImage(Spec(format, KdfPolicy::kMachineKey), pass);
    Check(state, image.status());
  }
}

void BM_CryptsetupFormat(benchmark::State& state, LuksFormat format, bool cheap) {
  SecretBytes pass = bench::MachinePassphrase();
  const std::string path = bench::FreshFile("cryptsetup-format", kVolumeBytes);
  std::vector<std::string> argv = {"cryptsetup", "luksFormat", "--batch-mode",
                                   "--type", TypeFlag(format), "--key-file",
                                   "/dev/fd/3"};
  if (cheap) {
    argv.insert(argv.end(), {"--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"});
  }
  argv.push_back(path);
  for (auto _ : state) {
    if (bench::Run(argv, {&pass}) != 0) state.SkipWithError("cryptsetup luksFormat failed");
  }
}

// A formatted file shared by the unlock benchmarks of one kind.
std::string FormattedFile(LuksFormat format, KdfPolicy kdf, const SecretBytes& pass) {
  const std::string path = bench::FreshFile(
      std::string("unlock-") + TypeFlag(format) + "-" +
          std::string(KdfPolicyName(kdf)),
      kVolumeBytes);
  if (!luks::FormatPath(path, Spec(format, kdf), pass, {}).ok()) std::abort();
  return path;
}

void BM_VolcryptUnlock(benchmark::State& state, LuksFormat format, KdfPolicy kdf) {
  SecretBytes pass = bench::MachinePassphrase();
  const std::string path = FormattedFile(format, kdf, pass);
  for (auto _ : state) Check(state, luks::VerifyPassphrase(path, pass).status());
}

// What `volume verify` (and manage, adopt and conversion) does to a header:
// copy the header region out of the volume, check it fits the volume, and
// find the keyslot the passphrase opens in that copy.
void BM_VolcryptVerify(benchmark::State& state, LuksFormat format) {
  SecretBytes pass = bench::MachinePassphrase();
  const std::string path = FormattedFile(format, KdfPolicy::kMachineKey, pass);
  std::unique_ptr<BlockBackend> mapped = NewMappedBackend();
  const VolumeLocation where = VolumeLocation::Path(path);
  for (auto _ : state) {
    absl::StatusOr<luks::LuksHeaderImage> header = mapped->ReadLuksHeader(where);
    absl::StatusOr<VolumeStat> stat = mapped->Stat(where);
    if (!header.ok() || !stat.ok() || header->size() > stat->raw_bytes) {
      state.SkipWithError("header read failed");
      break;
    }
    Check(state, luks::VerifyPassphrase(header->path(), pass).status());
  }
}

void BM_CryptsetupUnlock(benchmark::State& state, LuksFormat format, KdfPolicy kdf) {
  SecretBytes pass = bench::MachinePassphrase();
  const std::string path = FormattedFile(format, kdf, pass);
  const std::vector<std::string> argv = {"cryptsetup", "open", "--test-passphrase",
                                         "--key-file", "/dev/fd/3", path};
  for (auto _ : state) {
    if (bench::Run(argv, {&pass}) != 0) state.SkipWithError("cryptsetup open failed");
  }
}

// Keyslot maintenance on a machine-key header: add then remove (a pair, so
// every iteration starts from the same header), and change.
void BM_VolcryptAddRemoveKeyslot(benchmark::State& state, LuksFormat format) {
  SecretBytes pass = bench::MachinePassphrase();
  SecretBytes other = bench::MachinePassphrase();
  const std::string path = FormattedFile(format, KdfPolicy::kMachineKey, pass);
  for (auto _ : state) {
    Check(state, luks::AddPassphrase(path, pass, other, KdfPolicy::kMachineKey).status());
    Check(state, luks::RemovePassphrase(path, other));
  }
}

void BM_VolcryptChangeKeyslot(benchmark::State& state, LuksFormat format) {
  SecretBytes a = bench::MachinePassphrase();
  SecretBytes b = bench::MachinePassphrase();
  const std::string path = FormattedFile(format, KdfPolicy::kMachineKey, a);
  for (auto _ : state) {
    Check(state, luks::ChangePassphrase(path, a, b, KdfPolicy::kMachineKey).status());
    std::swap(a, b);
  }
}

void BM_CryptsetupChangeKey(benchmark::State& state, LuksFormat format) {
  SecretBytes a = bench::MachinePassphrase();
  SecretBytes b = bench::MachinePassphrase();
  const std::string path = FormattedFile(format, KdfPolicy::kMachineKey, a);
  for (auto _ : state) {
    // Old passphrase on fd 3, new one on fd 4.
    const int rc = bench::Run(
        {"cryptsetup", "luksChangeKey", "--batch-mode", "--pbkdf", "pbkdf2",
         "--pbkdf-force-iterations", "1000", "--key-file", "/dev/fd/3", path,
         "/dev/fd/4"},
        {&a, &b});
    if (rc != 0) state.SkipWithError("cryptsetup luksChangeKey failed");
    std::swap(a, b);
  }
}

using F = LuksFormat;
using K = KdfPolicy;
constexpr auto kMs = benchmark::kMillisecond;

// Creating a header.
BENCHMARK_CAPTURE(BM_VolcryptBuildHeaderImage, luks1, F::kLuks1)->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_VolcryptBuildHeaderImage, luks2, F::kLuks2)->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_VolcryptFormat, luks1_machine_key, F::kLuks1, K::kMachineKey)->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_VolcryptFormat, luks2_machine_key, F::kLuks2, K::kMachineKey)->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_CryptsetupFormat, luks1_pbkdf2_1000, F::kLuks1, true)->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_CryptsetupFormat, luks2_pbkdf2_1000, F::kLuks2, true)->Unit(kMs)->UseRealTime();
// The slow defaults: a few iterations are plenty at seconds each.
BENCHMARK_CAPTURE(BM_VolcryptFormat, luks1_passphrase, F::kLuks1, K::kPassphrase)
    ->Unit(kMs)->UseRealTime()->Iterations(1);
BENCHMARK_CAPTURE(BM_VolcryptFormat, luks2_passphrase, F::kLuks2, K::kPassphrase)
    ->Unit(kMs)->UseRealTime()->Iterations(1);
BENCHMARK_CAPTURE(BM_CryptsetupFormat, luks1_defaults, F::kLuks1, false)
    ->Unit(kMs)->UseRealTime()->Iterations(1);
BENCHMARK_CAPTURE(BM_CryptsetupFormat, luks2_defaults, F::kLuks2, false)
    ->Unit(kMs)->UseRealTime()->Iterations(1);

// Unlocking (passphrase check, no activation).
BENCHMARK_CAPTURE(BM_VolcryptUnlock, luks1_machine_key, F::kLuks1, K::kMachineKey)->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_VolcryptUnlock, luks2_machine_key, F::kLuks2, K::kMachineKey)->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_CryptsetupUnlock, luks1_machine_key, F::kLuks1, K::kMachineKey)->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_CryptsetupUnlock, luks2_machine_key, F::kLuks2, K::kMachineKey)->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_VolcryptVerify, luks1_machine_key, F::kLuks1)->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_VolcryptVerify, luks2_machine_key, F::kLuks2)->Unit(kMs)->UseRealTime();
// The same check on a default-KDF header: seconds each, so named apart from
// the rows above (--benchmark_filter=Unlock or Verify leaves them out;
// DefaultKdf selects them).
BENCHMARK_CAPTURE(BM_VolcryptUnlock, DefaultKdf_luks1, F::kLuks1, K::kPassphrase)
    ->Name("BM_DefaultKdfVolcryptCheck/luks1")->Unit(kMs)->UseRealTime()->Iterations(1);
BENCHMARK_CAPTURE(BM_CryptsetupUnlock, DefaultKdf_luks1, F::kLuks1, K::kPassphrase)
    ->Name("BM_DefaultKdfCryptsetupCheck/luks1")->Unit(kMs)->UseRealTime()->Iterations(1);

// Keyslot maintenance.
BENCHMARK_CAPTURE(BM_VolcryptAddRemoveKeyslot, luks1, F::kLuks1)->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_VolcryptAddRemoveKeyslot, luks2, F::kLuks2)->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_VolcryptChangeKeyslot, luks1, F::kLuks1)->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_VolcryptChangeKeyslot, luks2, F::kLuks2)->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_CryptsetupChangeKey, luks1, F::kLuks1)->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_CryptsetupChangeKey, luks2, F::kLuks2)->Unit(kMs)->UseRealTime();

}  // namespace
}  // namespace volcrypt

BENCHMARK_MAIN();
