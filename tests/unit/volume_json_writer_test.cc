// The tree-free volume JSON writer against the nlohmann tree it replaced:
// `volume list`, `volume show` and volcrypt_store_list_json must print the
// same bytes as before, whatever the records hold.
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "volcrypt/json.h"

namespace volcrypt {
namespace {

std::string Iso8601(int64_t seconds) {
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm = {};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The tree record_json.cc built before the writer, kept as the oracle.
nlohmann::json OldTree(const VolumeRecord& v) {
  nlohmann::json location;
  if (v.location.kind == BackendKind::kMapped) {
    location["path"] = v.location.path;
  } else {
    location["pool"] = v.location.pool;
    location["image"] = v.location.image;
  }
  return {
      {"id", v.id},
      {"status", std::string(VolumeStatusName(v.status))},
      {"host", v.host},
      {"size_bytes", v.size_bytes},
      {"backend", std::string(BackendKindName(v.location.kind))},
      {"location", location},
      {"encrypted", v.encrypted},
      {"encryption_key_id", v.encryption_key_id},
      {"key_format", std::string(KeyFormatName(v.key_format))},
      {"encryption",
       {{"provider", v.encryption.format == LuksFormat::kLuks1 ? "luks" : "luks2"},
        {"cipher", v.encryption.cipher},
        {"key_size", v.encryption.key_bits},
        {"control_location", "front-end"},
        {"sector_size", v.encryption.sector_size},
        {"kdf", std::string(KdfPolicyName(v.encryption.kdf))},
        {"engine", std::string(EncryptionEngineName(v.encryption.engine))}}},
      {"user_id", v.user_id},
      {"project_id", v.project_id},
      {"created_at", Iso8601(v.created_at)},
      {"updated_at", Iso8601(v.updated_at)},
  };
}

std::string OldDump(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

// What the CLI's `volume list` printed: the records dumped, parsed back and
// dumped again as one array.
std::string OldCliList(const std::vector<VolumeRecord>& all) {
  nlohmann::json out = nlohmann::json::array();
  for (const VolumeRecord& v : all) out.push_back(nlohmann::json::parse(OldDump(OldTree(v), 2)));
  return OldDump(out, 2) + "\n";
}

// What volcrypt_store_list_json returned.
std::string OldCapiList(const std::vector<VolumeRecord>& all) {
  std::string out = "[";
  for (size_t i = 0; i < all.size(); ++i) {
    if (i != 0) out += ",";
    out += OldDump(OldTree(all[i]), -1);
  }
  return out + "]";
}

VolumeRecord Mapped(const std::string& id) {
  VolumeRecord v;
  v.id = id;
  v.host = "compute-1";
  v.location = VolumeLocation::Path("/var/lib/volumes/" + id + ".img");
  v.size_bytes = 68719476736ULL;
  v.encryption_key_id = "2e265805-50a2-4b15-86c9-83066c38b9a4";
  v.user_id = "u";
  v.project_id = "p";
  v.status = VolumeStatus::kAvailable;
  v.created_at = 1796112000;
  v.updated_at = 1796112345;
  return v;
}

// Records whose text fields hold what outsiders can put there: quotes,
// backslashes, controls, DEL, UTF-8, bytes that are not UTF-8, and empty.
std::vector<VolumeRecord> Hostile() {
  const std::vector<std::string> texts = {
      "", "plain", "quo\"te", "back\\slash", "nl\nt\tcr\r\b\f", std::string("nul\0x", 5),
      "\x01\x1f\x7f", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91", "bad\xff\xfe", "trunc\xe2\x82",
      "\xc0\xaf overlong", "/", "</script>"};
  std::vector<VolumeRecord> out;
  for (size_t i = 0; i < texts.size(); ++i) {
    VolumeRecord v = Mapped("v" + std::to_string(i));
    v.user_id = texts[i];
    v.project_id = texts[(i + 3) % texts.size()];
    v.host = texts[(i + 5) % texts.size()];
    v.location = i % 2 ? VolumeLocation::Rbd(texts[i], texts[(i + 1) % texts.size()])
                       : VolumeLocation::Path(texts[i]);
    v.encryption.format = i % 3 ? LuksFormat::kLuks1 : LuksFormat::kLuks2;
    v.encryption.sector_size = i % 3 ? 0 : 4096;
    v.encryption.cipher = texts[(i + 7) % texts.size()];
    v.encrypted = i % 4 != 0;
    v.status = static_cast<VolumeStatus>(i % 3);
    v.created_at = static_cast<int64_t>(i) * 86400 * 400;
    out.push_back(v);
  }
  return out;
}

TEST(VolumeJsonWriterTest, ShowIsByteForByteTheOldTreeAtEveryIndent) {
  for (const VolumeRecord& v : Hostile()) {
    for (int indent : {-1, 0, 2, 4}) {
      EXPECT_EQ(VolumeToJson(v, indent), OldDump(OldTree(v), indent))
          << "record " << v.id << " indent " << indent;
    }
  }
}

TEST(VolumeJsonWriterTest, CliListIsByteForByteWhatItPrintedBefore) {
  std::vector<VolumeRecord> all = Hostile();
  for (int i = 0; i < 2000; ++i) all.push_back(Mapped("vol-" + std::to_string(i)));
  std::ostringstream os;
  ASSERT_TRUE(WriteVolumeListJson(all, 2, os));
  EXPECT_EQ(os.str(), OldCliList(all));  // over 64 KiB: crosses several flushes
  EXPECT_GT(os.str().size(), 3u * 64 * 1024);
}

TEST(VolumeJsonWriterTest, CapiListIsByteForByteWhatItReturnedBefore) {
  const std::vector<VolumeRecord> all = Hostile();
  std::string out;
  AppendVolumeListJson(all, -1, nullptr, &out);
  EXPECT_EQ(out, OldCapiList(all));
}

TEST(VolumeJsonWriterTest, AnEmptyListIsAnEmptyArrayInBothForms) {
  std::ostringstream os;
  ASSERT_TRUE(WriteVolumeListJson({}, 2, os));
  EXPECT_EQ(os.str(), "[]\n");
  EXPECT_EQ(os.str(), OldCliList({}));
  std::string compact;
  AppendVolumeListJson({}, -1, nullptr, &compact);
  EXPECT_EQ(compact, OldCapiList({}));
}

TEST(VolumeJsonWriterTest, ReportsAStreamThatRefusedTheOutput) {
  std::ostringstream os;
  os.setstate(std::ios::badbit);
  EXPECT_FALSE(WriteVolumeListJson({Mapped("a")}, 2, os));
}

}  // namespace
}  // namespace volcrypt
