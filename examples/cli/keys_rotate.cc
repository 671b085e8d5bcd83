#include "examples/cli/keys_rotate.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "examples/cli/progress_line.h"
#include "absl/strings/str_format.h"

namespace volcrypt_cli {
namespace {

using namespace volcrypt;

constexpr int64_t kMaxErrorsLimit = 1'000'000;
constexpr int64_t kMaxAgeSeconds = int64_t{100} * 366 * 86400;  // a century

// "90d", "12h", "30m", "45s" or plain seconds.
absl::StatusOr<int64_t> ParseDuration(const std::string& text) {
  int64_t unit = 1;
  std::string digits = text;
  if (!digits.empty()) {
    switch (digits.back()) {
      case 'd': unit = 86400; break;
      case 'h': unit = 3600; break;
      case 'm': unit = 60; break;
      case 's': unit = 1; break;
      default: unit = 0; break;
    }
    if (unit != 0) digits.pop_back(); else unit = 1;
  }
  int64_t n = 0;
  if (digits.empty() || digits.size() > 12 || !absl::SimpleAtoi(digits, &n) || n < 0 ||
      n > kMaxAgeSeconds / unit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--older-than '", OneLineText(text, 32),
        "' is not a duration (90d, 12h, 30m, 45s or seconds, at most a century)"));
  }
  return n * unit;
}

std::string OneLine(const std::string& text) {
  return OneLineText(text, 240);
}

void PrintItemLine(const FleetRotationItem& item) {
  std::cout << FleetRotationOutcomeName(item.outcome) << " volume " << item.volume_id;
  if (!item.new_key_id.empty()) std::cout << " key " << item.new_key_id;
  if (!item.error.empty()) std::cout << ": " << OneLine(item.error);
  std::cout << std::endl;
}

void PrintProgress(const FleetRotationProgress& p) {
  PrintProgressLine("volumes", p.done, p.total, p.elapsed_seconds);
}

}  // namespace

absl::StatusOr<FleetRotationOptions> RotationOptionsFrom(const Args& args) {
  FleetRotationOptions o;
  o.host = args.Get("host").value_or("");
  o.dry_run = args.Has("dry-run");
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  o.key_created_before = now;
  if (args.Has("older-than") && args.Has("created-before")) {
    return absl::InvalidArgumentError("give --older-than or --created-before, not both");
  }
  if (auto age = args.Get("older-than")) {
    absl::StatusOr<int64_t> seconds = ParseDuration(*age);
    if (!seconds.ok()) return seconds.status();
    o.key_created_before = now - *seconds;
  }
  if (auto before = args.Get("created-before")) {
    int64_t t = 0;
    std::string error;
    if (!ParseCount("created-before", *before, kMaxAgeSeconds * 30, &t, &error) || t <= 0) {
      return absl::InvalidArgumentError(error.empty() ? "--created-before must be positive"
                                                      : error);
    }
    o.key_created_before = t;
  }
  if (auto m = args.Get("max-errors")) {
    int64_t max_errors = 0;
    std::string error;
    if (!ParseCount("max-errors", *m, kMaxErrorsLimit, &max_errors, &error)) {
      return absl::InvalidArgumentError(error);
    }
    o.max_errors = static_cast<int>(max_errors);
  }
  return o;
}

int KeysRotate(const Args& args, FleetRotationOptions o, VolumeService& service,
               VolumeStore& store) {
  const bool json = args.Has("json");
  const bool tty = isatty(STDERR_FILENO) && isatty(STDOUT_FILENO);
  if (o.only_key_bytes == nullptr) {
    std::fprintf(stderr, "volcrypt: INFO: rotating keys made before %lld; after a kill, "
                 "run 'volcrypt reconcile', then rerun with --created-before %lld\n",
                 static_cast<long long>(o.key_created_before),
                 static_cast<long long>(o.key_created_before));
  } else {
    std::fprintf(stderr, "volcrypt: INFO: rotating the keys that hold the fixed key's "
                 "bytes; after a kill, run 'volcrypt reconcile', then rerun\n");
  }
  o.on_item = [&](const FleetRotationItem& item, const FleetRotationProgress& p) {
    if (json) {
      std::cout << FleetRotationItemToJson(item) << std::endl;
    } else if (tty) {
      PrintProgress(p);
    } else {
      PrintItemLine(item);
    }
  };
  absl::StatusOr<FleetRotationReport> r = RotateFleetKeys(service, store, o);
  if (!r.ok()) {
    std::fprintf(stderr, "volcrypt: keys rotate: %s\n",
                 OneLine(std::string(r.status().message())).c_str());
    return 1;
  }
  if (json) {
    nlohmann::json summary = {{"host", r->host}, {"rotated", r->rotated},
                              {"failed", r->failed}, {"skipped", r->skipped},
                              {"aborted", r->aborted}, {"dry_run", o.dry_run},
                              {"items", r->items.size()},
                              {"key_created_before", o.key_created_before}};
    std::cout << nlohmann::json({{"summary", summary}}).dump() << std::endl;
  } else {
    std::cout << absl::StrFormat("%s: %d rotated, %d failed, %d skipped%s%s", r->host,
                                 r->rotated, r->failed, r->skipped,
                                 o.dry_run ? absl::StrFormat(", %d would rotate",
                                                             r->items.size())
                                           : "",
                                 r->aborted ? " (aborted: too many errors)" : "")
              << std::endl;
  }
  return (r->failed > 0 || r->aborted) ? 1 : 0;
}

int RekeyOffFixedKey(const Args& args, VolumeService& service, VolumeStore& store,
                     KeyManager& destination, const SecretBytes& fixed_key) {
  FleetRotationOptions o;
  o.host = args.Get("host").value_or("");
  o.key_created_before = INT64_MAX;  // whatever its age: the bytes decide
  o.only_key_bytes = &fixed_key;
  o.keys = &destination;
  if (auto m = args.Get("max-errors")) {
    int64_t max_errors = 0;
    std::string error;
    if (ParseCount("max-errors", *m, kMaxErrorsLimit, &max_errors, &error)) {
      o.max_errors = static_cast<int>(max_errors);
    }
  }
  return KeysRotate(args, std::move(o), service, store);
}

}  // namespace volcrypt_cli
