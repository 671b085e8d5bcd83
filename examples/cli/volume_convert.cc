#include "examples/cli/volume_convert.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "absl/strings/numbers.h"
#include "examples/cli/progress_line.h"
#include "volcrypt/json.h"
#include "volcrypt/size_rule.h"

namespace volcrypt_cli {
namespace {

int UsageError(const std::string& what) {
  std::fprintf(stderr, "volcrypt: %s\n", OneLineText(what, 240).c_str());
  return 2;
}

// The target and its spec from the options; "" or the usage error.
std::string TargetFrom(const Args& args, volcrypt::ConvertVolumeRequest& r) {
  const bool path = args.Has("path");
  const bool rbd = args.Has("pool") || args.Has("image");
  if (path == rbd || (rbd && !(args.Has("pool") && args.Has("image")))) {
    return "needs --path P, or --pool P and --image I";
  }
  r.target = path ? volcrypt::VolumeLocation::Path(*args.Get("path"))
                  : volcrypt::VolumeLocation::Rbd(*args.Get("pool"), *args.Get("image"));
  if (auto f = args.Get("format")) {
    absl::StatusOr<volcrypt::LuksFormat> format = volcrypt::ParseLuksFormat(*f);
    if (!format.ok()) return std::string(format.status().message());
    r.encryption.format = *format;
  }
  if (auto e = args.Get("engine")) {
    absl::StatusOr<volcrypt::EncryptionEngine> engine = volcrypt::ParseEncryptionEngine(*e);
    if (!engine.ok()) return std::string(engine.status().message());
    r.encryption.engine = *engine;
  }
  std::string error;
  int64_t n = 0;
  if (auto k = args.Get("key-size")) {
    if (!ParseCount("key-size", *k, 512, &n, &error)) return error;
    r.encryption.key_bits = static_cast<int>(n);
  }
  if (auto s = args.Get("sector-size")) {
    if (!ParseCount("sector-size", *s, 4096, &n, &error)) return error;
    r.encryption.sector_size = static_cast<uint32_t>(n);
  }
  r.keep_source = args.Has("keep-source");
  if (auto b = args.Get("bandwidth")) {  // bytes per second: "64M" is 64 MiB/s
    absl::StatusOr<uint64_t> rate = volcrypt::ParseSize(*b);
    if (!rate.ok() || *rate == 0) return "--bandwidth wants bytes per second, such as 64M";
    r.bandwidth = *rate;
  }
  return "";
}

}  // namespace

int VolumeConvert(const Args& args, const std::string& verb, const std::string& id,
                  volcrypt::VolumeService& service) {
  volcrypt::ConvertVolumeRequest r;
  r.id = id;
  r.kind = verb == "encrypt" ? volcrypt::ConversionKind::kEncrypt
                             : volcrypt::ConversionKind::kReencrypt;
  const std::string bad = TargetFrom(args, r);
  if (!bad.empty()) return UsageError("volume " + verb + " " + OneLineText(id, 64) + ": " + bad);
  const bool json = args.Has("json");
  const bool tty = !json && isatty(STDERR_FILENO);
  const auto start = std::chrono::steady_clock::now();
  auto last = start - std::chrono::seconds(1);
  r.progress = [&](uint64_t done, uint64_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (done != total && now - last < std::chrono::milliseconds(json ? 1000 : 200)) return;
    last = now;
    if (json) {
      std::cout << "{\"done_bytes\":" << done << ",\"total_bytes\":" << total << "}"
                << std::endl;
    } else if (tty) {
      const double secs = std::chrono::duration<double>(now - start).count();
      PrintProgressLine("MiB", static_cast<int>(done >> 20), static_cast<int>(total >> 20),
                        secs);
    }
  };
  absl::StatusOr<volcrypt::VolumeRecord> v = service.ConvertVolume(r);
  if (!v.ok()) {
    if (tty) std::fputs("\n", stderr);
    std::fprintf(stderr, "volcrypt: volume %s %s: %s\n", verb.c_str(),
                 OneLineText(id, 64).c_str(),
                 OneLineText(std::string(v.status().message()), 240).c_str());
    return 1;
  }
  std::cout << volcrypt::VolumeToJson(*v) << std::endl;
  return 0;
}

}  // namespace volcrypt_cli
