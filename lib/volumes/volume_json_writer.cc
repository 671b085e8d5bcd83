// Volume records as JSON without building a JSON tree: `volume list` of
// 10,000 records spent three quarters of its time building nlohmann values,
// dumping them, parsing the dumps back and dumping the array again.
//
// The bytes are exactly those nlohmann's dump(indent, ' ', false, replace)
// gives for the tree record_json.cc used to build (std::map order, so keys
// sorted; "key": value with one space when pretty; {} and [] when empty).
// tests/unit/volume_json_writer_test.cc keeps that tree as the oracle.
#include <cstdio>
#include <ctime>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "volcrypt/json.h"
#include "lib/util/iso8601.h"

namespace volcrypt {
namespace {

// Appends a JSON string. Plain printable ASCII (every id, path, cipher and
// name we make ourselves) is copied as is; anything else (controls, quotes,
// non-ASCII, bytes that are not UTF-8) goes through nlohmann so that its
// escaping and U+FFFD replacement stay the library's, byte for byte.
void AppendString(std::string* out, const std::string& s) {
  bool plain = true;
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  }
  if (!plain) {
    *out += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  out->push_back('"');
  out->append(s);
  out->push_back('"');
}

// One object being written: the caller gives members in sorted key order.
class ObjectWriter {
 public:
  // `depth`: how many levels the object's opening brace is nested.
  ObjectWriter(std::string* out, int indent, int depth)
      : out_(out), indent_(indent), depth_(depth) {
    out_->push_back('{');
  }

  // Writes the key and its separator; the caller appends the value.
  std::string* Key(const char* key) {
    if (!first_) out_->push_back(',');
    first_ = false;
    if (indent_ >= 0) {
      out_->push_back('\n');
      out_->append(static_cast<size_t>(indent_) * (depth_ + 1), ' ');
    }
    out_->push_back('"');
    out_->append(key);
    out_->append(indent_ >= 0 ? "\": " : "\":");
    return out_;
  }
  void String(const char* key, const std::string& v) { AppendString(Key(key), v); }
  void Bool(const char* key, bool v) { Key(key)->append(v ? "true" : "false"); }
  template <typename Number>
  void Int(const char* key, Number v) { Key(key)->append(std::to_string(v)); }

  // The depth a nested object's brace is at.
  int Inner() const { return depth_ + 1; }

  void Close() {
    if (indent_ >= 0 && !first_) {
      out_->push_back('\n');
      out_->append(static_cast<size_t>(indent_) * depth_, ' ');
    }
    out_->push_back('}');
  }

 private:
  std::string* out_;
  int indent_;
  int depth_;
  bool first_ = true;
};

}  // namespace

void AppendVolumeJson(const VolumeRecord& v, int indent, int depth, std::string* out) {
  ObjectWriter o(out, indent, depth);
  o.String("backend", std::string(BackendKindName(v.location.kind)));
  o.String("created_at", Iso8601(v.created_at));
  o.Bool("encrypted", v.encrypted);
  o.Key("encryption");
  {
    ObjectWriter e(out, indent, o.Inner());
    e.String("cipher", v.encryption.cipher);
    e.String("control_location", "front-end");
    e.String("engine", std::string(EncryptionEngineName(v.encryption.engine)));
    e.String("kdf", std::string(KdfPolicyName(v.encryption.kdf)));
    e.Int("key_size", v.encryption.key_bits);
    e.String("provider", v.encryption.format == LuksFormat::kLuks1 ? "luks" : "luks2");
    e.Int("sector_size", v.encryption.sector_size);
    e.Close();
  }
  o.String("encryption_key_id", v.encryption_key_id);
  o.String("host", v.host);
  o.String("id", v.id);
  o.String("key_format", std::string(KeyFormatName(v.key_format)));
  o.Key("location");
  {
    ObjectWriter l(out, indent, o.Inner());
    if (v.location.kind == BackendKind::kMapped) {
      l.String("path", v.location.path);
    } else {
      l.String("image", v.location.image);
      l.String("pool", v.location.pool);
    }
    l.Close();
  }
  o.String("project_id", v.project_id);
  o.Int("size_bytes", v.size_bytes);
  o.String("status", std::string(VolumeStatusName(v.status)));
  o.String("updated_at", Iso8601(v.updated_at));
  o.String("user_id", v.user_id);
  o.Close();
}

std::string VolumeToJson(const VolumeRecord& v, int indent) {
  std::string out;
  out.reserve(indent >= 0 ? 700 : 520);
  AppendVolumeJson(v, indent, 0, &out);
  return out;
}

void AppendVolumeListJson(const std::vector<VolumeRecord>& records, int indent,
                          const std::function<void(std::string*)>& flush, std::string* out) {
  if (records.empty()) {
    out->append("[]");
    return;
  }
  out->push_back('[');
  for (size_t i = 0; i < records.size(); ++i) {
    if (i != 0) out->push_back(',');
    if (indent >= 0) {
      out->push_back('\n');
      out->append(static_cast<size_t>(indent), ' ');
    }
    AppendVolumeJson(records[i], indent, 1, out);
    if (flush && out->size() >= 64 * 1024) flush(out);
  }
  if (indent >= 0) out->push_back('\n');
  out->push_back(']');
}

bool WriteVolumeListJson(const std::vector<VolumeRecord>& records, int indent,
                         std::ostream& os) {
  std::string buf;
  buf.reserve(80 * 1024);
  auto flush = [&os](std::string* b) {
    os.write(b->data(), static_cast<std::streamsize>(b->size()));
    b->clear();
  };
  AppendVolumeListJson(records, indent, flush, &buf);
  buf.push_back('\n');
  flush(&buf);
  os.flush();
  return static_cast<bool>(os);
}

}  // namespace volcrypt
