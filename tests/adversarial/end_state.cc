#include "tests/adversarial/end_state.h"

#include <dirent.h>
#include <libvirt/libvirt.h>

#include <set>

namespace volcrypt {
namespace testing {
namespace {

const std::set<std::string> kFinal = {"available", "in-use", "error"};

// A disk in a domain's XML: its source (a file path or "pool/image") and
// the secret its LUKS encryption names, if any.
struct Disk {
  std::string domain;
  bool live = false;
  std::string source;
  std::string secret_uuid;
};

std::string AttrAfter(const std::string& block, const std::string& tag,
                      const std::string& attr) {
  const size_t t = block.find("<" + tag);
  if (t == std::string::npos) return "";
  const size_t end = block.find('>', t);
  for (const char q : {'\'', '"'}) {
    const std::string key = attr + "=" + q;
    const size_t a = block.find(key, t);
    if (a == std::string::npos || a > end) continue;
    const size_t v = a + key.size();
    return block.substr(v, block.find(q, v) - v);
  }
  return "";
}

std::vector<Disk> DisksIn(const std::string& domain, bool live, const std::string& xml) {
  std::vector<Disk> disks;
  for (size_t at = xml.find("<disk"); at != std::string::npos;
       at = xml.find("<disk", at + 1)) {
    const size_t end = xml.find("</disk>", at);
    const std::string block = xml.substr(at, end == std::string::npos ? end : end - at);
    Disk d;
    d.domain = domain;
    d.live = live;
    d.source = AttrAfter(block, "source", "file");
    if (d.source.empty()) d.source = AttrAfter(block, "source", "dev");
    if (d.source.empty()) d.source = AttrAfter(block, "source", "name");
    const size_t enc = block.find("<encryption");
    if (enc != std::string::npos) d.secret_uuid = AttrAfter(block.substr(enc), "secret", "uuid");
    disks.push_back(d);
  }
  return disks;
}

// Every disk of every domain, live and persistent.
std::vector<Disk> AllDisks(virConnectPtr conn) {
  std::vector<Disk> all;
  virDomainPtr* domains = nullptr;
  const int n = virConnectListAllDomains(conn, &domains, 0);
  for (int i = 0; i < n; ++i) {
    const std::string name = virDomainGetName(domains[i]);
    for (const bool live : {true, false}) {
      if (live && virDomainIsActive(domains[i]) != 1) continue;
      if (!live && virDomainIsPersistent(domains[i]) != 1) continue;
      char* xml = virDomainGetXMLDesc(domains[i], live ? 0 : VIR_DOMAIN_XML_INACTIVE);
      if (xml != nullptr) {
        for (Disk& d : DisksIn(name, live, xml)) all.push_back(d);
        free(xml);
      }
    }
    virDomainFree(domains[i]);
  }
  free(domains);
  return all;
}

std::string SourceOf(const nlohmann::json& record) {
  const nlohmann::json& loc = record.value("location", nlohmann::json::object());
  if (loc.contains("path")) return loc["path"].get<std::string>();
  return loc.value("pool", std::string()) + "/" + loc.value("image", std::string());
}

void ExpectLibvirtExplained(const std::string& uri,
                            const std::vector<nlohmann::json>& records) {
  virConnectPtr conn = virConnectOpen(uri.c_str());
  if (conn == nullptr) {
    ADD_FAILURE() << "end state: cannot reach libvirtd at " << uri;
    return;
  }
  const std::vector<Disk> disks = AllDisks(conn);
  std::map<std::string, std::string> status_of_source;
  for (const nlohmann::json& r : records) {
    status_of_source[SourceOf(r)] = r.value("status", std::string());
  }
  // Each in-use record's disk is really in a domain.
  for (const nlohmann::json& r : records) {
    if (r.value("status", std::string()) != "in-use") continue;
    bool found = false;
    for (const Disk& d : disks) found = found || d.source == SourceOf(r);
    EXPECT_TRUE(found) << "end state: volume " << r.value("id", std::string())
                       << " is in-use but no domain (live or persistent) has its disk "
                       << SourceOf(r);
  }
  // Each in-use record's disk names a secret that exists: else its domain
  // cannot start ("Secret not found").
  for (const Disk& d : disks) {
    auto it = status_of_source.find(d.source);
    if (it == status_of_source.end() || it->second != "in-use" || d.secret_uuid.empty()) {
      continue;
    }
    virSecretPtr s = virSecretLookupByUUIDString(conn, d.secret_uuid.c_str());
    EXPECT_NE(s, nullptr) << "end state: domain " << d.domain
                          << (d.live ? " (live)" : " (persistent)") << " has the disk "
                          << d.source << " whose secret " << d.secret_uuid
                          << " is gone: the domain cannot start";
    if (s != nullptr) virSecretFree(s);
  }
  // No disk of a recorded volume that the record does not explain.
  for (const Disk& d : disks) {
    auto it = status_of_source.find(d.source);
    if (it == status_of_source.end()) continue;
    EXPECT_EQ(it->second, "in-use")
        << "end state: domain " << d.domain << (d.live ? " (live)" : " (persistent)")
        << " still has the disk " << d.source << " of a volume that is " << it->second
        << ": a disk no record explains";
  }
  // No volcrypt secret that no in-use record's disk uses.
  virSecretPtr* secrets = nullptr;
  const int n = virConnectListAllSecrets(conn, &secrets, 0);
  for (int i = 0; i < n; ++i) {
    const char* usage = virSecretGetUsageID(secrets[i]);
    char uuid[VIR_UUID_STRING_BUFLEN] = {};
    virSecretGetUUIDString(secrets[i], uuid);
    if (virSecretGetUsageType(secrets[i]) == VIR_SECRET_USAGE_TYPE_VOLUME && usage &&
        std::string(usage).rfind("/volcrypt/", 0) == 0) {
      bool explained = false;
      for (const Disk& d : disks) {
        auto it = status_of_source.find(d.source);
        explained = explained || (d.secret_uuid == uuid && it != status_of_source.end() &&
                                  it->second == "in-use");
      }
      EXPECT_TRUE(explained) << "end state: libvirt secret " << uuid << " (usage " << usage
                             << ") is explained by no in-use record's disk: a secret "
                                "left behind, its passphrase in libvirtd's state";
    }
    virSecretFree(secrets[i]);
  }
  free(secrets);
  virConnectClose(conn);
}

}  // namespace

std::vector<nlohmann::json> ListRecords(const Operator& op) {
  const Outcome list = op.Run({"volume", "list"});
  EXPECT_EQ(list.exit_code, 0) << "end state: `volume list` must work: " << list.err;
  const nlohmann::json j = ParseJson(list.out);
  if (list.exit_code != 0 || !j.is_array()) {
    ADD_FAILURE() << "end state: `volume list` did not print a JSON array: "
                  << Printable(list.out, 300);
    return {};
  }
  return std::vector<nlohmann::json>(j.begin(), j.end());
}

void ExpectEndState(const EndState& state) {
  const std::vector<nlohmann::json> records = ListRecords(*state.op);
  std::set<std::string> key_ids;
  for (const nlohmann::json& r : records) {
    const std::string id = r.value("id", std::string());
    const std::string status = r.value("status", std::string());
    key_ids.insert(r.value("encryption_key_id", std::string()));
    if (state.settled) {
      EXPECT_TRUE(kFinal.count(status))
          << "end state: volume " << id << " left '" << status
          << "' after reconcile: a step no recovery finishes";
    }
    if (status == "available" || status == "in-use") {
      const Outcome verify = state.op->Run({"volume", "verify", id});
      EXPECT_EQ(verify.exit_code, 0) << "end state: volume " << id << " (" << status
                                     << ") does not verify with its key: " << verify.err;
    }
  }
  if (!state.keys_dir.empty()) {
    if (DIR* d = opendir(state.keys_dir.c_str())) {
      while (dirent* e = readdir(d)) {
        const std::string name = e->d_name;
        // The master key's check file is the manager's own, not a key.
        if (name == "." || name == ".." || name == ".master-check") continue;
        if (name == ".names" || name == ".names.new") continue;  // its name index
        const bool key_file = name.size() > 4 && name.substr(name.size() - 4) == ".key";
        const std::string id = key_file ? name.substr(0, name.size() - 4) : name;
        EXPECT_TRUE(key_file && key_ids.count(id))
            << "end state: " << state.keys_dir << "/" << name
            << " is a key (or a key's leftover) that no record explains";
      }
      closedir(d);
    }
  }
  if (!state.libvirt_uri.empty()) ExpectLibvirtExplained(state.libvirt_uri, records);
  for (const auto& [path, content] : state.foreign_files) {
    const std::string now = FileContent(path);
    EXPECT_TRUE(now == content)
        << "end state: " << path << ", which another record or person owns, was "
        << (now == "<missing>" ? "deleted" : "changed");
  }
}

}  // namespace testing
}  // namespace volcrypt
