// Offline encryption of a plain 256 MiB RBD image, half of it data (8 MiB
// extents of random bytes alternating with 8 MiB holes), on a throwaway
// cluster (one memstore OSD, so CPU-bound):
//   - volcrypt's ConvertVolume to LUKS1 (qemu engine) and to LUKS2 (librbd
//     engine, 4096-byte sectors): copy through librbd, AES-XTS in this
//     process, verified, record swapped;
//   - cinder's way for an encrypted RBD volume from an image: `rbd export`,
//     `qemu-img convert -O luks` (cheap iter-time), `rbd import`;
//   - librbd's own encryption: `rbd create`, `rbd encryption format luks2`
//     (its default PBKDF, as an operator runs it), then `qemu-img convert -n`
//     into the image through QEMU's rbd driver with encrypt.format=luks2.
// Each writes the source's holes as encrypted zeros (they read as zeros).
// MB/s counts the 256 MiB volume. Reproduce: bench/run.sh rbd_convert_bench.
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_support.h"
#include "bench/ceph_cluster.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

constexpr uint64_t kVolume = 256ull << 20;
constexpr uint64_t kExtent = 8 << 20;

// The memstore OSD must hold the source, a destination and cinder's import
// (set before main, so before the cluster starts).
const int kMemstoreSized = setenv("CEPH_MEMSTORE_BYTES", "4294967296", 0);

using Cluster = bench::CephCluster;

using bench::Unique;

// The plain source image, imported once from a sparse file (rbd import
// skips its zeros, so the image's unwritten extents are the file's holes).
// "" if the cluster did not start or the import failed.
const std::string& SourceImage(Cluster& c) {
  static const std::string image = [&c] {
    if (c.conf.empty()) return std::string();
    const std::string file = bench::HalfDataFile("plain-source.img", kVolume, kExtent);
    const std::string name = "plain-source";
    if (bench::Run({"rbd", "-c", c.conf, "import", file, "rbd/" + name}) != 0) return std::string();
    unlink(file.c_str());
    return name;
  }();
  return image;
}

void BM_VolcryptEncrypt(benchmark::State& state, LuksFormat format) {
  Cluster& c = bench::RunWide<Cluster>();
  const std::string src = SourceImage(c);
  if (src.empty()) return state.SkipWithError("no Ceph cluster or no source image");
  VolumeService& service = c.stack->service();
  for (auto _ : state) {
    ManageVolumeRequest m;
    m.id = Unique("conv-");
    m.location = VolumeLocation::Rbd("rbd", src);
    m.key_kind = ManagedKeyKind::kNone;
    absl::StatusOr<VolumeRecord> v = service.ManageVolume(m);
    if (!v.ok()) return state.SkipWithError(std::string(v.status().message()).c_str());
    ConvertVolumeRequest r;
    r.id = m.id;
    r.kind = ConversionKind::kEncrypt;
    r.target = VolumeLocation::Rbd("rbd", Unique("volcrypt-"));
    r.encryption.format = format;
    r.encryption.engine =
        format == LuksFormat::kLuks1 ? EncryptionEngine::kQemu : EncryptionEngine::kLibrbd;
    r.keep_source = true;  // the next iteration converts it again
    absl::StatusOr<VolumeRecord> done = service.ConvertVolume(r);
    state.PauseTiming();
    if (!done.ok()) state.SkipWithError(std::string(done.status().message()).c_str());
    // Forget the kept source without deleting it, then delete the copy.
    (void)service.UnmanageVolume(m.id);
    (void)bench::Run({"rbd", "-c", c.conf, "rm", "--no-progress", "rbd/" + r.target.image});
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kVolume));
}

void BM_CinderExportConvertImport(benchmark::State& state) {
  Cluster& c = bench::RunWide<Cluster>();
  const std::string src = SourceImage(c);
  if (src.empty()) return state.SkipWithError("no Ceph cluster or no source image");
  const SecretBytes pass = bench::MachinePassphrase();
  const std::string raw = bench::ScratchDir() + "/cinder.raw";
  const std::string luks = bench::ScratchDir() + "/cinder.luks";
  for (auto _ : state) {
    unlink(raw.c_str());
    unlink(luks.c_str());
    const std::string image = Unique("rbd/cinder-");
    const bool ok =
        bench::Run({"rbd", "-c", c.conf, "export", "--no-progress", "rbd/" + src, raw}) == 0 &&
        bench::Run({"qemu-img", "convert", "-f", "raw", "-O", "luks", "--object",
                    "secret,id=s0,file=/dev/fd/3", "-o", "key-secret=s0,iter-time=10", raw,
                    luks},
                   {&pass}) == 0 &&
        bench::Run({"rbd", "-c", c.conf, "import", "--no-progress", luks, image}) == 0;
    state.PauseTiming();
    if (!ok) state.SkipWithError("rbd export, qemu-img convert or rbd import failed");
    (void)bench::Run({"rbd", "-c", c.conf, "rm", "--no-progress", image});
    state.ResumeTiming();
  }
  unlink(raw.c_str());
  unlink(luks.c_str());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kVolume));
}

void BM_RbdFormatAndQemuImgConvert(benchmark::State& state) {
  Cluster& c = bench::RunWide<Cluster>();
  const std::string src = SourceImage(c);
  if (src.empty()) return state.SkipWithError("no Ceph cluster or no source image");
  const SecretBytes pass = bench::MachinePassphrase();
  for (auto _ : state) {
    const std::string image = Unique("native-");
    // 16 MiB more than the payload: librbd's LUKS2 header comes off the top.
    const bool ok =
        bench::Run({"rbd", "-c", c.conf, "create", "--size", "272M", "rbd/" + image}) == 0 &&
        bench::Run({"rbd", "-c", c.conf, "encryption", "format", "rbd/" + image, "luks2",
                    "/dev/fd/3"},
                   {&pass}) == 0 &&
        bench::Run({"qemu-img", "convert", "-n", "-f", "raw", "--object",
                    "secret,id=s0,file=/dev/fd/3", "--target-image-opts",
                    "rbd:rbd/" + src + ":conf=" + c.conf,
                    "driver=rbd,pool=rbd,image=" + image + ",conf=" + c.conf +
                        ",encrypt.format=luks2,encrypt.key-secret=s0"},
                   {&pass}) == 0;
    state.PauseTiming();
    if (!ok) state.SkipWithError("rbd encryption format or qemu-img convert failed");
    (void)bench::Run({"rbd", "-c", c.conf, "rm", "--no-progress", "rbd/" + image});
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kVolume));
}

constexpr auto kMs = benchmark::kMillisecond;
BENCHMARK_CAPTURE(BM_VolcryptEncrypt, luks1_qemu, LuksFormat::kLuks1)
    ->Unit(kMs)->UseRealTime()->Iterations(1);
BENCHMARK_CAPTURE(BM_VolcryptEncrypt, luks2_librbd, LuksFormat::kLuks2)
    ->Unit(kMs)->UseRealTime()->Iterations(1);
BENCHMARK(BM_CinderExportConvertImport)->Unit(kMs)->UseRealTime()->Iterations(1);
BENCHMARK(BM_RbdFormatAndQemuImgConvert)->Unit(kMs)->UseRealTime()->Iterations(1);

}  // namespace
}  // namespace volcrypt

BENCHMARK_MAIN();
