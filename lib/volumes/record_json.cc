#include "volcrypt/json.h"

#include <nlohmann/json.hpp>

#include <ctime>
#include <string>

#include "lib/util/iso8601.h"

namespace volcrypt {
namespace {

// Records hold text from outside (user and project ids, names); a byte that
// is not UTF-8 becomes U+FFFD instead of making the whole record unprintable.
std::string Dump(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json LuksInfoJsonValue(const volcrypt::luks::LuksInfo& info) {
  nlohmann::json slots = nlohmann::json::array();
  for (const auto& k : info.keyslots) {
    slots.push_back({{"slot", k.slot}, {"pbkdf", k.pbkdf}, {"iterations", k.iterations}});
  }
  return {
      {"version", info.format == volcrypt::LuksFormat::kLuks1 ? 1 : 2},
      {"cipher", info.cipher},
      {"volume_key_bits", info.volume_key_bits},
      {"key_size", info.key_bits},
      {"payload_offset_bytes", info.payload_offset_bytes},
      {"sector_size", info.sector_size},
      {"uuid", info.uuid},
      {"keyslots", slots},
      {"device_bytes", info.device_bytes},
      {"payload_bytes", info.payload_bytes},
  };
}

}  // namespace

// VolumeToJson is in volume_json_writer.cc: it writes without a tree.

std::string SnapshotToJson(const SnapshotRecord& s, int indent) {
  return Dump({{"id", s.id},
               {"volume_id", s.volume_id},
               {"encryption_key_id", s.encryption_key_id},
               {"status", s.status},
               {"created_at", Iso8601(s.created_at)}},
              indent);
}

std::string LuksInfoToJson(const luks::LuksInfo& info, int indent) {
  return Dump(LuksInfoJsonValue(info), indent);
}

namespace {

nlohmann::json ItemObject(const KeyMigrationItem& item) {
  nlohmann::json j = {{"kind", std::string(KeyHolderKindName(item.kind))},
                      {"id", item.id},
                      {"outcome", std::string(KeyMigrationOutcomeName(item.outcome))}};
  if (!item.new_key_id.empty()) j["new_key_id"] = item.new_key_id;
  if (item.kind == KeyHolderKind::kVolume && item.outcome == KeyMigrationOutcome::kMigrated) {
    j["snapshots"] = item.snapshots;
  }
  if (item.adopted_secret) j["adopted_secret"] = true;
  if (item.duplicates_deleted) j["duplicates_deleted"] = item.duplicates_deleted;
  if (!item.error.empty()) j["error"] = item.error;
  return j;
}

}  // namespace

std::string KeyMigrationItemToJson(const KeyMigrationItem& item, int indent) {
  return Dump(ItemObject(item), indent);
}

std::string KeyMigrationReportToJson(const KeyMigrationReport& r, bool with_items,
                                     int indent) {
  nlohmann::json j = {{"host", r.host},
                      {"migrated", r.migrated},
                      {"failed", r.failed},
                      {"skipped", r.skipped},
                      {"aborted", r.aborted},
                      {"volumes_remaining", r.volumes_remaining},
                      {"backups_remaining", r.backups_remaining}};
  if (!r.not_started_because.empty()) j["not_started"] = r.not_started_because;
  if (with_items) {
    j["items"] = nlohmann::json::array();
    for (const KeyMigrationItem& item : r.items) j["items"].push_back(ItemObject(item));
  }
  return Dump(j, indent);
}

}  // namespace volcrypt
