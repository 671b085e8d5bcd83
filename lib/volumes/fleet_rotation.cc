#include "volcrypt/fleet_rotation.h"

#include <cerrno>
#include <chrono>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "volcrypt/errors.h"

namespace volcrypt {

absl::string_view FleetRotationOutcomeName(FleetRotationOutcome outcome) {
  switch (outcome) {
    case FleetRotationOutcome::kRotated: return "rotated";
    case FleetRotationOutcome::kWouldRotate: return "would-rotate";
    case FleetRotationOutcome::kSkipped: return "skipped";
    case FleetRotationOutcome::kFailed: return "failed";
  }
  return "failed";
}

namespace {

nlohmann::json ItemJson(const FleetRotationItem& item) {
  nlohmann::json j = {{"outcome", std::string(FleetRotationOutcomeName(item.outcome))},
                      {"volume_id", item.volume_id},
                      {"old_key_id", item.old_key_id}};
  if (!item.new_key_id.empty()) j["new_key_id"] = item.new_key_id;
  if (!item.error.empty()) j["error"] = item.error;
  return j;
}

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string FleetRotationItemToJson(const FleetRotationItem& item) {
  return Dump(ItemJson(item));
}

std::string FleetRotationReportToJson(const FleetRotationReport& r) {
  nlohmann::json items = nlohmann::json::array();
  for (const FleetRotationItem& item : r.items) items.push_back(ItemJson(item));
  return Dump({{"host", r.host}, {"rotated", r.rotated}, {"failed", r.failed},
               {"skipped", r.skipped}, {"aborted", r.aborted}, {"items", items}});
}

absl::StatusOr<FleetRotationReport> RotateFleetKeys(VolumeService& service,
                                                    VolumeStore& store,
                                                    const FleetRotationOptions& o) {
  if ((o.only_key_bytes == nullptr) != (o.keys == nullptr)) {
    return absl::InvalidArgumentError("only_key_bytes and keys go together");
  }
  if (o.key_created_before <= 0) {
    return absl::InvalidArgumentError("a fleet rotation needs a cutoff (keys made before)");
  }
  const auto start = std::chrono::steady_clock::now();
  FleetRotationReport report;
  report.host = o.host.empty() ? service.host() : o.host;
  VolumeFilter filter;
  filter.host = report.host;
  filter.key_created_before = o.key_created_before;
  absl::StatusOr<std::vector<VolumeRecord>> listed = store.ListVolumes(filter);
  if (!listed.ok()) return listed.status();
  std::vector<VolumeRecord> todo;
  for (VolumeRecord& v : *listed) {
    if (v.encrypted && !v.encryption_key_id.empty() &&
        (v.status == VolumeStatus::kAvailable || v.status == VolumeStatus::kInUse)) {
      if (o.only_key_bytes != nullptr) {
        absl::StatusOr<SecretBytes> key = o.keys->GetKey(v.encryption_key_id);
        if (absl::IsNotFound(key.status())) continue;  // not in this key manager
        if (!key.ok()) return key.status();
        if (!key->Equals(*o.only_key_bytes)) continue;
      }
      todo.push_back(std::move(v));
    }
  }
  FleetRotationProgress progress;
  progress.total = static_cast<int>(todo.size());
  for (const VolumeRecord& v : todo) {
    FleetRotationItem item;
    item.volume_id = v.id;
    item.old_key_id = v.encryption_key_id;
    if (o.dry_run) {
      item.outcome = FleetRotationOutcome::kWouldRotate;
    } else {
      absl::StatusOr<VolumeRecord> r = service.RotateKey(v.id, o.key_created_before);
      if (r.ok()) {
        item.outcome = FleetRotationOutcome::kRotated;
        item.new_key_id = r->encryption_key_id;
        ++report.rotated;
      } else if (absl::IsFailedPrecondition(r.status()) &&
                 (ErrnoOf(r.status()) == EALREADY || ErrnoOf(r.status()) == EBUSY)) {
        // Rotated by another run since the listing, or in another flow now.
        item.outcome = FleetRotationOutcome::kSkipped;
        item.error = std::string(r.status().message());
        ++report.skipped;
      } else {
        item.outcome = FleetRotationOutcome::kFailed;
        item.error = std::string(r.status().message());
        ++report.failed;
      }
    }
    ++progress.done;
    progress.elapsed_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (o.on_item) o.on_item(item, progress);
    report.items.push_back(std::move(item));
    if (report.failed > o.max_errors) {
      report.aborted = true;
      break;
    }
  }
  return report;
}

}  // namespace volcrypt
