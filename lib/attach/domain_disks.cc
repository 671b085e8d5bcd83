#include "lib/attach/domain_disks.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "lib/attach/libxml_loader.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "lib/util/status_macros.h"

namespace volcrypt {
namespace {

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
struct XPathCtxFree {
  void operator()(xmlXPathContext* c) const { xmlXPathFreeContext(c); }
};
struct XPathObjFree {
  void operator()(xmlXPathObject* o) const { xmlXPathFreeObject(o); }
};
using Doc = std::unique_ptr<xmlDoc, DocFree>;

absl::StatusOr<Doc> Parse(const std::string& xml) {
  Doc doc(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "domain.xml",
                        nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR |
                                     XML_PARSE_NOWARNING));
  if (doc == nullptr) return absl::InvalidArgumentError("domain XML does not parse");
  return doc;
}

std::string Attr(xmlNode* node, const char* name) {
  xmlChar* v = xmlGetProp(node, BAD_CAST name);
  std::string out = v ? reinterpret_cast<const char*>(v) : "";
  XmlFree(v);
  return out;
}

xmlNode* Child(xmlNode* parent, const char* name) {
  for (xmlNode* c = parent->children; c != nullptr; c = c->next) {
    if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST name)) return c;
  }
  return nullptr;
}

// Calls `fn` on every /domain/devices/disk until it returns true.
template <typename Fn>
absl::Status ForEachDisk(const std::string& domain_xml, Fn fn) {
  absl::StatusOr<Doc> doc = Parse(domain_xml);
  if (!doc.ok()) return doc.status();
  std::unique_ptr<xmlXPathContext, XPathCtxFree> ctx(xmlXPathNewContext(doc->get()));
  std::unique_ptr<xmlXPathObject, XPathObjFree> disks(
      xmlXPathEvalExpression(BAD_CAST "/domain/devices/disk", ctx.get()));
  if (disks == nullptr || disks->nodesetval == nullptr) return absl::OkStatus();
  for (int i = 0; i < disks->nodesetval->nodeNr; ++i) {
    if (fn(doc->get(), disks->nodesetval->nodeTab[i])) break;
  }
  return absl::OkStatus();
}

std::string Text(xmlNode* node) {
  xmlChar* text = xmlNodeGetContent(node);
  std::string out = text ? reinterpret_cast<const char*>(text) : "";
  XmlFree(text);
  return out;
}

// The secret UUID of the disk's <encryption>, which sits in <source>
// (libvirt >= 7) or directly in <disk>.
std::string EncryptionSecret(xmlNode* disk) {
  for (xmlNode* parent : {disk, Child(disk, "source")}) {
    if (parent == nullptr) continue;
    xmlNode* enc = Child(parent, "encryption");
    if (enc == nullptr) continue;
    if (xmlNode* secret = Child(enc, "secret")) return Attr(secret, "uuid");
  }
  return "";
}

DomainDisk Describe(xmlDoc* doc, xmlNode* disk) {
  DomainDisk d;
  xmlBuffer* buf = xmlBufferCreate();
  xmlNodeDump(buf, doc, disk, 0, 0);
  d.xml = reinterpret_cast<const char*>(xmlBufferContent(buf));
  xmlBufferFree(buf);
  if (xmlNode* serial = Child(disk, "serial")) d.serial = Text(serial);
  if (xmlNode* target = Child(disk, "target")) d.target_dev = Attr(target, "dev");
  if (xmlNode* source = Child(disk, "source")) {
    d.path = Attr(source, "file");
    if (d.path.empty()) d.path = Attr(source, "dev");
    d.network_name = Attr(source, "name");
  }
  d.secret_uuid = EncryptionSecret(disk);
  if (xmlNode* mirror = Child(disk, "mirror")) {
    d.mirror = true;
    d.mirror_ready = Attr(mirror, "ready");
    if (xmlNode* source = Child(mirror, "source")) {
      d.mirror_source = Attr(source, "file");
      if (d.mirror_source.empty()) d.mirror_source = Attr(source, "dev");
      if (d.mirror_source.empty()) d.mirror_source = Attr(source, "name");
    }
    d.mirror_secret_uuid = EncryptionSecret(mirror);
  }
  return d;
}

}  // namespace

absl::StatusOr<std::vector<DomainDisk>> ListDisks(const std::string& domain_xml) {
  std::vector<DomainDisk> disks;
  absl::Status s = ForEachDisk(domain_xml, [&](xmlDoc* doc, xmlNode* disk) {
    disks.push_back(Describe(doc, disk));
    return false;
  });
  if (!s.ok()) return s;
  return disks;
}

absl::StatusOr<absl::optional<DomainDisk>> FindDiskByTarget(
    const std::string& domain_xml, const std::string& target_dev) {
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<DomainDisk> disks, ListDisks(domain_xml));
  for (DomainDisk& d : disks) {
    if (d.target_dev == target_dev) return absl::optional<DomainDisk>(std::move(d));
  }
  return absl::optional<DomainDisk>();
}

absl::StatusOr<bool> UsesSecret(const std::string& domain_xml,
                                const std::string& uuid) {
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<DomainDisk> disks, ListDisks(domain_xml));
  for (const DomainDisk& d : disks) {
    if (d.secret_uuid == uuid || d.mirror_secret_uuid == uuid) return true;
  }
  return false;
}

}  // namespace volcrypt
