#include "examples/cli/keys_migrate.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "examples/cli/progress_line.h"
#include "absl/strings/str_format.h"
#include "volcrypt/json.h"
#include "volcrypt/key_migration.h"

namespace volcrypt_cli {
namespace {

using namespace volcrypt;

// keys migrate --max-errors: more than any deployment has volumes to fail.
constexpr int64_t kMaxErrorsLimit = 1'000'000;

// Log lines to stderr as "volcrypt: LEVEL: line", INFO included (operators
// grep for cinder's INFO lines); on a terminal, first clears the progress
// line so the two never mix.
class OperatorLogger : public Logger {
 public:
  explicit OperatorLogger(bool tty) : tty_(tty) {}
  void Log(LogLevel level, absl::string_view line) override {
    if (level == LogLevel::kDebug) return;
    std::lock_guard<std::mutex> lock(mu_);
    std::fprintf(stderr, "%svolcrypt: %s: %.*s\n", tty_ ? "\r\033[K" : "",
                 std::string(LogLevelName(level)).c_str(),
                 static_cast<int>(line.size()), line.data());
  }

 private:
  const bool tty_;
  std::mutex mu_;
};

void PrintItemLine(const KeyMigrationItem& item) {
  std::cout << KeyMigrationOutcomeName(item.outcome) << ' '
            << KeyHolderKindName(item.kind) << ' ' << item.id;
  if (!item.new_key_id.empty()) std::cout << " key " << item.new_key_id;
  if (item.snapshots) std::cout << " snapshots " << item.snapshots;
  if (!item.error.empty()) std::cout << ": " << item.error;
  std::cout << std::endl;
}

void PrintProgress(const KeyMigrationProgress& p) {
  PrintProgressLine("items", p.done, p.total, p.elapsed_seconds);
}

}  // namespace

absl::StatusOr<KeyMigrationOptions> MigrationOptionsFrom(const Args& args) {
  KeyMigrationOptions o;
  o.host = args.Get("host").value_or("");  // "": this machine's
  o.dry_run = args.Has("dry-run");
  if (auto m = args.Get("max-errors")) {
    int64_t max_errors = 0;
    std::string error;
    if (!ParseCount("max-errors", *m, kMaxErrorsLimit, &max_errors, &error)) {
      return absl::InvalidArgumentError(error);
    }
    o.max_errors = static_cast<decltype(o.max_errors)>(max_errors);
  }
  return o;
}

int KeysMigrate(const Args& args, KeyMigrationOptions o, VolumeStore& store,
                KeyManager* fixed, KeyManager& destination) {
  const bool json = args.Has("json");
  const bool tty = isatty(STDERR_FILENO) && isatty(STDOUT_FILENO);
  OperatorLogger log(tty);
  o.on_item = [&](const KeyMigrationItem& item, const KeyMigrationProgress& p) {
    if (json) {
      std::cout << KeyMigrationItemToJson(item) << std::endl;
    } else if (tty) {
      PrintProgress(p);
    } else {
      PrintItemLine(item);
    }
  };
  absl::StatusOr<KeyMigrationReport> r =
      MigrateFixedKeyItems(store, fixed, destination, o, &log);
  if (!r.ok()) {
    std::fprintf(stderr, "volcrypt: keys migrate: %s\n",
                 std::string(r.status().message()).c_str());
    return 1;
  }
  nlohmann::json summary = nlohmann::json::parse(KeyMigrationReportToJson(*r, false));
  summary["dry_run"] = o.dry_run;
  summary["items"] = r->items.size();
  if (json) {
    std::cout << nlohmann::json({{"summary", summary}}).dump() << std::endl;
  } else {
    std::cout << absl::StrFormat(
                     "%s: %d migrated, %d failed, %d skipped%s; %d volume(s) and "
                     "%d backup(s) still on the fixed key",
                     r->host, r->migrated, r->failed, r->skipped,
                     r->aborted ? " (aborted: too many errors)" : "",
                     r->volumes_remaining, r->backups_remaining)
              << std::endl;
  }
  return (r->failed > 0 || r->aborted) ? 1 : 0;
}

}  // namespace volcrypt_cli
