// Online conversion (VolumeService::ConvertVolume of an attached volume:
// blockcopy and pivot) of a 1 GiB LUKS1 file volume, half of it data,
// attached to a running (paused) KVM domain of a private libvirtd. Reports
// the conversion's rate over the whole volume and the latency of a 4 KiB
// read that QEMU serves for the disk (HMP qemu-io through libvirt) while
// idle and while the copy runs.
// Reproduce: bench/run.sh online_conversion_bench (root; ~1 minute).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include <libvirt/libvirt-qemu.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_support.h"
#include "tests/support/embedded_stack.h"
#include "volcrypt/attacher.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

constexpr char kDomain[] = "volcrypt-bench-online";
constexpr uint64_t kUsable = 1ull << 30;
constexpr uint64_t kChunk = 16 << 20;  // data in every other 16 MiB

using Clock = std::chrono::steady_clock;

struct Bed {
  Bed() {
    dir = bench::ScratchDir();
    const char* root = std::getenv("VOLCRYPT_SOURCE_ROOT");
    script = std::string(root ? root : ".") + "/tests/scripts/libvirtd.sh";
    uri = std::string(absl::StripAsciiWhitespace(
        bench::RunOutput({"bash", script, "start", dir + "/libvirt"})));
    if (uri.empty()) return;
    const std::string domain_xml = dir + "/domain.xml";
    bench::WriteText(domain_xml,
        absl::StrCat("<domain type='kvm'><name>", kDomain, "</name><memory unit='MiB'>64"
                     "</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type>"
                     "</os><devices><controller type='usb' model='none'/><controller "
                     "type='scsi' index='0' model='virtio-scsi'/><memballoon model='none'/>"
                     "</devices></domain>"));
    bench::Run({"virsh", "-c", uri, "define", domain_xml});
    bench::Run({"virsh", "-c", uri, "start", "--paused", kDomain});
    conn = virConnectOpen(uri.c_str());
    dom = virDomainLookupByName(conn, kDomain);
    attacher = std::move(Attacher::Connect(uri).value());
    testing::EmbeddedStackOptions o;
    o.dir = dir;
    o.host = "bench";
    o.attacher = attacher.get();
    stack = std::move(testing::EmbeddedStack::Open(std::move(o)).value());
    ok = dom != nullptr;
  }
  // Every connection goes before the daemon, as in attach_bench: closing
  // one on a stopped libvirtd writes to a dead socket, and SIGPIPE killed
  // the run at exit (exit 141).
  ~Bed() {
    stack.reset();
    attacher.reset();
    if (dom != nullptr) virDomainFree(dom);
    if (conn != nullptr) virConnectClose(conn);
    bench::Run({"bash", script, "stop", dir + "/libvirt"});
  }

  // Milliseconds for one HMP qemu-io command on the disk.
  double Hmp(const std::string& io) {
    char* out = nullptr;
    const auto t0 = Clock::now();
    virDomainQemuMonitorCommand(dom, absl::StrCat("qemu-io -d scsi0-0-0-1 \"", io, "\"").c_str(),
                                &out, VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    free(out);
    return ms;
  }

  bool ok = false;
  std::string dir, script, uri;
  virConnectPtr conn = nullptr;
  virDomainPtr dom = nullptr;
  std::unique_ptr<Attacher> attacher;
  std::unique_ptr<testing::EmbeddedStack> stack;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

void BM_OnlineConversion1GiBHalfData(benchmark::State& state) {
  Bed& bed = bench::RunWide<Bed>();
  if (!bed.ok) {
    state.SkipWithError("no private libvirtd (needs root)");
    return;
  }
  VolumeService& service = bed.stack->service();
  int round = 0;
  std::vector<double> idle, busy;
  double copy_seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string id = absl::StrCat("online-", round++);
    CreateVolumeRequest c;
    c.id = id;
    c.location = VolumeLocation::Path(bed.dir + "/" + id);
    c.size_bytes = kUsable;
    if (!service.CreateVolume(c).ok()) state.SkipWithError("create failed");
    AttachTarget live;
    live.domain = kDomain;
    if (!service.AttachVolume(id, live, {}).ok()) state.SkipWithError("attach failed");
    for (uint64_t at = 0; at < kUsable; at += 2 * kChunk) {
      bed.Hmp(absl::StrCat("write -P 0x5a ", at, " ", kChunk));
    }
    for (int i = 0; i < 20; ++i) idle.push_back(bed.Hmp("read 1M 4k"));
    ConvertVolumeRequest r;
    r.id = id;
    r.target = VolumeLocation::Path(bed.dir + "/" + id + "-new");
    Clock::time_point first{}, last{};
    r.progress = [&](uint64_t copied, uint64_t total) {
      if (first == Clock::time_point{}) first = Clock::now();
      if (copied < total) busy.push_back(bed.Hmp("read 1M 4k"));
      last = Clock::now();
    };
    state.ResumeTiming();
    absl::StatusOr<VolumeRecord> v = service.ConvertVolume(r);
    state.PauseTiming();
    if (!v.ok()) state.SkipWithError(std::string(v.status().message()).c_str());
    copy_seconds += std::chrono::duration<double>(last - first).count();
    (void)service.DetachVolume(id);
    (void)service.DeleteVolume(id);
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kUsable));
  state.counters["copy_MiB_per_s"] =
      copy_seconds > 0 ? state.iterations() * 1024.0 / copy_seconds : 0;
  state.counters["read4k_idle_p50_ms"] = Percentile(idle, 0.5);
  state.counters["read4k_copy_p50_ms"] = Percentile(busy, 0.5);
  state.counters["read4k_copy_p99_ms"] = Percentile(busy, 0.99);
  state.counters["reads_during_copy"] = static_cast<double>(busy.size());
}
BENCHMARK(BM_OnlineConversion1GiBHalfData)->Iterations(1)->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace volcrypt

BENCHMARK_MAIN();
