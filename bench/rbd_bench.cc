// Encrypted RBD volumes on a throwaway Ceph cluster: volcrypt's create
// (image + LUKS core header) against `rbd create` + `rbd encryption format`
// and against cinder's `qemu-img create -f luks` + `rbd import`; then the
// time librbd and QEMU need to open each kind of header.
// Reproduce: bench/run.sh rbd_bench (starts its own cluster; ~3 minutes).
#include <benchmark/benchmark.h>

#include <unistd.h>

#include "bench/bench_support.h"
#include "bench/ceph_cluster.h"
#include "tests/support/embedded_stack.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/rbd_backend.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

constexpr uint64_t kUsable = 64 << 20;

using Cluster = bench::CephCluster;
using bench::Unique;

CreateVolumeRequest Request(const std::string& id, LuksFormat format) {
  CreateVolumeRequest r;
  r.id = id;
  r.location = VolumeLocation::Rbd("rbd", "volume-" + id);
  r.size_bytes = kUsable;
  r.encryption.format = format;
  r.encryption.engine =
      format == LuksFormat::kLuks1 ? EncryptionEngine::kQemu : EncryptionEngine::kLibrbd;
  return r;
}

void BM_VolcryptCreate(benchmark::State& state, LuksFormat format) {
  Cluster& c = bench::RunWide<Cluster>();
  if (c.conf.empty()) return state.SkipWithError("no Ceph cluster");
  for (auto _ : state) {
    const std::string id = Unique("create-");
    absl::Status s = c.stack->service().CreateVolume(Request(id, format)).status();
    state.PauseTiming();
    if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
    (void)c.stack->service().DeleteVolume(id);
    state.ResumeTiming();
  }
}

void BM_RbdCreateEncryptionFormat(benchmark::State& state, const char* format) {
  Cluster& c = bench::RunWide<Cluster>();
  if (c.conf.empty()) return state.SkipWithError("no Ceph cluster");
  SecretBytes pass = bench::MachinePassphrase();
  for (auto _ : state) {
    const std::string image = Unique(std::string("rbd/native-") + format + "-");
    const bool ok =
        bench::Run({"rbd", "-c", c.conf, "create", "--size", "68M", image}) == 0 &&
        bench::Run({"rbd", "-c", c.conf, "encryption", "format", image, format,
                    "/dev/fd/3"}, {&pass}) == 0;
    if (!ok) state.SkipWithError("rbd encryption format failed");
  }
}

void BM_CinderQemuImgAndRbdImport(benchmark::State& state) {
  Cluster& c = bench::RunWide<Cluster>();
  if (c.conf.empty()) return state.SkipWithError("no Ceph cluster");
  SecretBytes pass = bench::MachinePassphrase();
  const std::string file = bench::ScratchDir() + "/cinder.luks";
  for (auto _ : state) {
    unlink(file.c_str());
    int rc = 1;
    for (int attempt = 0; attempt < 5 && rc != 0; ++attempt) {
      rc = bench::Run({"qemu-img", "create", "-f", "luks", "--object",
                       "secret,id=s0,file=/dev/fd/3", "-o", "key-secret=s0", file, "64M"},
                      {&pass});
    }
    rc = rc != 0 ? rc
                 : bench::Run({"rbd", "-c", c.conf, "import", file,
                               Unique("rbd/cinder-")});
    if (rc != 0) state.SkipWithError("qemu-img create or rbd import failed");
  }
}

// A volume of each kind, made once, opened many times.
struct Opened {
  VolumeLocation where;
  LuksFormat format;
  SecretBytes pass;
};

// A volume of each kind, or an error (the benchmark then skips; aborting
// would leave the cluster running).
absl::StatusOr<Opened> Make(const std::string& kind) {
  Cluster& c = bench::RunWide<Cluster>();
  Opened o;
  o.format = kind.find("luks2") != std::string::npos ? LuksFormat::kLuks2 : LuksFormat::kLuks1;
  if (kind.rfind("volcrypt", 0) == 0) {
    const std::string id = Unique("open-" + kind + "-");
    absl::StatusOr<VolumeRecord> v = c.stack->service().CreateVolume(Request(id, o.format));
    if (!v.ok()) return v.status();
    absl::StatusOr<SecretBytes> key = c.stack->keys().GetKey(v->encryption_key_id);
    if (!key.ok()) return key.status();
    o.where = v->location;
    o.pass = HexPassphrase(*key);
  } else {
    o.pass = bench::MachinePassphrase();
    o.where = VolumeLocation::Rbd("rbd", Unique("open-" + kind + "-"));
    const bool made =
        bench::Run({"rbd", "-c", c.conf, "create", "--size", "68M", "rbd/" + o.where.image}) == 0 &&
        bench::Run({"rbd", "-c", c.conf, "encryption", "format", "rbd/" + o.where.image,
                    o.format == LuksFormat::kLuks1 ? "luks1" : "luks2", "/dev/fd/3"},
                   {&o.pass}) == 0;
    if (!made) return absl::InternalError("rbd create or encryption format failed");
  }
  return o;
}

void BM_LibrbdOpen(benchmark::State& state, const char* kind) {
  Cluster& c = bench::RunWide<Cluster>();
  if (c.conf.empty()) return state.SkipWithError("no Ceph cluster");
  absl::StatusOr<Opened> made = Make(kind);
  if (!made.ok()) return state.SkipWithError(std::string(made.status().message()).c_str());
  const Opened& o = *made;
  for (auto _ : state) {
    if (!c.rbd->VerifyNative(o.where, o.format, o.pass).ok()) {
      state.SkipWithError("rbd_encryption_load failed");
    }
  }
}

void BM_QemuOpen(benchmark::State& state, const char* kind) {
  Cluster& c = bench::RunWide<Cluster>();
  if (c.conf.empty()) return state.SkipWithError("no Ceph cluster");
  absl::StatusOr<Opened> made = Make(kind);
  if (!made.ok()) return state.SkipWithError(std::string(made.status().message()).c_str());
  const Opened& o = *made;
  const std::string opts =
      "driver=rbd,pool=rbd,image=" + o.where.image + ",conf=" + c.conf +
      ",encrypt.format=" + (o.format == LuksFormat::kLuks1 ? "luks" : "luks2") +
      ",encrypt.key-secret=s0";
  for (auto _ : state) {
    if (bench::Run({"qemu-io", "--object", "secret,id=s0,file=/dev/fd/3", "--image-opts",
                    opts, "-c", "read 0 4k"}, {&o.pass}) != 0) {
      state.SkipWithError("qemu-io failed");
    }
  }
}

constexpr auto kMs = benchmark::kMillisecond;
BENCHMARK_CAPTURE(BM_VolcryptCreate, luks1_qemu, LuksFormat::kLuks1)->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_VolcryptCreate, luks2_librbd, LuksFormat::kLuks2)->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_RbdCreateEncryptionFormat, luks1, "luks1")
    ->Unit(kMs)->UseRealTime()->Iterations(1);
BENCHMARK_CAPTURE(BM_RbdCreateEncryptionFormat, luks2, "luks2")
    ->Unit(kMs)->UseRealTime()->Iterations(1);
BENCHMARK(BM_CinderQemuImgAndRbdImport)->Unit(kMs)->UseRealTime()->Iterations(1);
BENCHMARK_CAPTURE(BM_LibrbdOpen, volcrypt_luks1, "volcrypt-luks1")->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_LibrbdOpen, volcrypt_luks2, "volcrypt-luks2")->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_LibrbdOpen, rbd_format_luks1, "native-luks1")
    ->Unit(kMs)->UseRealTime()->Iterations(1);
BENCHMARK_CAPTURE(BM_QemuOpen, volcrypt_luks1, "volcrypt-luks1q")->Unit(kMs)->UseRealTime();
BENCHMARK_CAPTURE(BM_QemuOpen, rbd_format_luks1, "native-luks1q")
    ->Unit(kMs)->UseRealTime()->Iterations(1);

}  // namespace
}  // namespace volcrypt

BENCHMARK_MAIN();
