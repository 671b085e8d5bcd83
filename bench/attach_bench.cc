// The attach pipeline through a real (private) libvirtd and QEMU: key get,
// secret define + set value, attach-device live, records; then detach. Each
// repetition is one cycle, so the aggregates give the median and p99 over 60
// cycles. Next to it, the time QEMU needs to open the same volume formatted
// three ways (ours, cryptsetup's default KDF, plain raw).
// Reproduce: bench/run.sh attach_bench (root: it starts a private libvirtd).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "bench/bench_support.h"
#include "tests/support/embedded_stack.h"
#include "volcrypt/attacher.h"
#include "volcrypt/luks.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

constexpr char kDomain[] = "volcrypt-bench";
constexpr uint64_t kUsable = 64 << 20;

double P99(const std::vector<double>& v) {
  std::vector<double> s = v;
  std::sort(s.begin(), s.end());
  return s[std::min(s.size() - 1, static_cast<size_t>(0.99 * s.size()))];
}

// A private libvirtd with a paused domain, and a service over it.
struct Bed {
  Bed() {
    const std::string dir = bench::ScratchDir();
    const char* root = std::getenv("VOLCRYPT_SOURCE_ROOT");
    script = std::string(root ? root : ".") + "/tests/scripts/libvirtd.sh";
    std::string uri = bench::RunOutput({"bash", script, "start", dir + "/libvirt"});
    uri = std::string(absl::StripAsciiWhitespace(uri));
    if (uri.empty()) return;
    const std::string domain_xml = dir + "/domain.xml";
    bench::WriteText(domain_xml,
        "<domain type='kvm'><name>volcrypt-bench</name><memory unit='MiB'>64</memory>"
        "<vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
        "<controller type='usb' model='none'/><controller type='scsi' index='0' "
        "model='virtio-scsi'/><memballoon model='none'/></devices></domain>");
    bench::Run({"virsh", "-c", uri, "define", domain_xml});
    bench::Run({"virsh", "-c", uri, "start", "--paused", kDomain});
    attacher = std::move(Attacher::Connect(uri).value());
    testing::EmbeddedStackOptions o;
    o.dir = dir;
    o.host = "bench";
    o.attacher = attacher.get();
    stack = std::move(testing::EmbeddedStack::Open(std::move(o)).value());
    CreateVolumeRequest r;
    r.id = "bench-attach";
    r.location = VolumeLocation::Path(dir + "/bench-attach");
    r.size_bytes = kUsable;
    ok = stack->service().CreateVolume(r).ok();
  }
  // The connection goes before the daemon: closing it on a stopped libvirtd
  // wrote to a dead socket and SIGPIPE killed the run at exit (exit 141,
  // no table, the scratch directory left behind).
  ~Bed() {
    stack.reset();
    attacher.reset();
    bench::Run({"bash", script, "stop", bench::ScratchDir() + "/libvirt"});
  }

  bool ok = false;
  std::string script;
  std::unique_ptr<Attacher> attacher;
  std::unique_ptr<testing::EmbeddedStack> stack;
};

using Clock = std::chrono::steady_clock;

// One attach (timed) + detach (untimed) per repetition, or the reverse.
void BM_AttachDetachCycle(benchmark::State& state, bool time_attach) {
  Bed& bed = bench::RunWide<Bed>();
  if (!bed.ok) {
    state.SkipWithError("no private libvirtd (needs root)");
    return;
  }
  AttachTarget live;
  live.domain = kDomain;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    absl::Status a = bed.stack->service().AttachVolume("bench-attach", live, {}).status();
    const auto t1 = Clock::now();
    absl::Status d = bed.stack->service().DetachVolume("bench-attach").status();
    const auto t2 = Clock::now();
    if (!a.ok() || !d.ok()) state.SkipWithError("attach or detach failed");
    state.SetIterationTime(std::chrono::duration<double>(
                               time_attach ? t1 - t0 : t2 - t1).count());
  }
}

// QEMU opening a LUKS volume and reading 4 KiB (qemu-io, a fresh process).
void BM_QemuOpen(benchmark::State& state, const char* kind) {
  const std::string kind_name = kind;
  const std::string path = bench::FreshFile(std::string("open-") + kind, kUsable + (4 << 20));
  SecretBytes pass = bench::MachinePassphrase();
  std::vector<std::string> argv = {"qemu-io", "--image-opts"};
  if (kind_name == "raw") {
    argv.push_back("driver=raw,file.driver=file,file.filename=" + path);
  } else {
    if (kind_name == "volcrypt") {
      luks::FormatPath(path, EncryptionSpec(), pass, {}).IgnoreError();
    } else {
      bench::Run({"cryptsetup", "luksFormat", "--batch-mode", "--type", "luks1",
                  "--key-file", "/dev/fd/3", path}, {&pass});
    }
    argv = {"qemu-io", "--object", "secret,id=s0,file=/dev/fd/3", "--image-opts",
            "driver=luks,key-secret=s0,file.driver=file,file.filename=" + path};
  }
  argv.insert(argv.end(), {"-c", "read 0 4k"});
  for (auto _ : state) {
    if (bench::Run(argv, {&pass}) != 0) state.SkipWithError("qemu-io failed");
  }
}

const auto kP99 = [](const std::vector<double>& v) { return P99(v); };

BENCHMARK_CAPTURE(BM_AttachDetachCycle, attach_live, true)
    ->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(1)
    ->Repetitions(60)->ComputeStatistics("p99", kP99)->ReportAggregatesOnly();
BENCHMARK_CAPTURE(BM_AttachDetachCycle, detach_live, false)
    ->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(1)
    ->Repetitions(60)->ComputeStatistics("p99", kP99)->ReportAggregatesOnly();
BENCHMARK_CAPTURE(BM_QemuOpen, raw, "raw")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_QemuOpen, volcrypt, "volcrypt")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_QemuOpen, cryptsetup_defaults, "cryptsetup")
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);

}  // namespace
}  // namespace volcrypt

BENCHMARK_MAIN();
