#include "volcrypt/attach_xml.h"

#include <libxml/tree.h>
#include <libxml/xmlsave.h>

#include <memory>

#include <openssl/sha.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/util/quote.h"
#include "lib/util/status_macros.h"
#include "volcrypt/key_manager.h"

namespace volcrypt {
namespace {

// A libxml2 document with helpers that take std::string; the library
// escapes attribute values and text.
class XmlDoc {
 public:
  explicit XmlDoc(const char* root_name)
      : doc_(xmlNewDoc(BAD_CAST "1.0"), &xmlFreeDoc) {
    root_ = xmlNewNode(nullptr, BAD_CAST root_name);
    xmlDocSetRootElement(doc_.get(), root_);
  }
  xmlNodePtr root() const { return root_; }

  static xmlNodePtr Child(xmlNodePtr parent, const char* name) {
    return xmlNewChild(parent, nullptr, BAD_CAST name, nullptr);
  }
  static xmlNodePtr TextChild(xmlNodePtr parent, const char* name,
                              const std::string& text) {
    xmlNodePtr n = Child(parent, name);
    xmlNodeAddContent(n, BAD_CAST text.c_str());
    return n;
  }
  static void Attr(xmlNodePtr node, const char* name, const std::string& value) {
    xmlNewProp(node, BAD_CAST name, BAD_CAST value.c_str());
  }

  // The document without the XML declaration, indented.
  std::string Serialize() const {
    std::unique_ptr<xmlBuffer, decltype(&xmlBufferFree)> buf(xmlBufferCreate(),
                                                             &xmlBufferFree);
    xmlSaveCtxtPtr ctx = xmlSaveToBuffer(buf.get(), "UTF-8",
                                         XML_SAVE_FORMAT | XML_SAVE_NO_DECL);
    xmlSaveTree(ctx, root_);
    xmlSaveClose(ctx);
    return std::string(reinterpret_cast<const char*>(xmlBufferContent(buf.get())),
                       static_cast<size_t>(xmlBufferLength(buf.get())));
  }

 private:
  std::unique_ptr<xmlDoc, decltype(&xmlFreeDoc)> doc_;
  xmlNodePtr root_;
};

absl::Status CheckText(const std::string& what, const std::string& value) {
  if (value.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(what, " holds a NUL byte"));
  }
  if (xmlCheckUTF8(BAD_CAST value.c_str()) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not UTF-8"));
  }
  return absl::OkStatus();
}

absl::Status CheckTarget(const DiskXmlOptions& o) {
  auto is_name = [](const std::string& s) {
    if (s.empty() || s.size() > 32) return false;
    for (char c : s) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
    }
    return true;
  };
  if (!is_name(o.target_dev)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "target device '", o.target_dev, "' is not a device name like sdb"));
  }
  if (o.target_bus != "scsi" && o.target_bus != "virtio" &&
      o.target_bus != "sata" && o.target_bus != "ide") {
    return absl::InvalidArgumentError(absl::StrCat(
        "target bus '", o.target_bus, "' is not scsi, virtio, sata or ide"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string SecretUsageId(const std::string& volume_id) {
  return absl::StrCat("/volcrypt/volumes/", volume_id);
}

bool IsVolcryptUsage(const std::string& usage_id) {
  return usage_id.rfind("/volcrypt/", 0) == 0;
}

std::string ConversionSecretUuid(const std::string& volume_id, const std::string& key_id) {
  const std::string in = absl::StrCat("volcrypt conversion secret\n", volume_id, "\n", key_id);
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(in.data()), in.size(), d);
  d[6] = static_cast<unsigned char>((d[6] & 0x0f) | 0x80);  // version 8: custom
  d[8] = static_cast<unsigned char>((d[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string hex;
  for (int i = 0; i < 16; ++i) hex += absl::StrFormat("%02x", d[i]);
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20, 12));
}

std::string ConversionSecretUsageId(const std::string& volume_id,
                                    const std::string& secret_uuid) {
  return absl::StrCat(SecretUsageId(volume_id), "/", secret_uuid);
}

bool IsSecretUsageOf(const std::string& usage_id, const std::string& volume_id) {
  const std::string own = SecretUsageId(volume_id);
  return usage_id == own || usage_id.rfind(own + "/", 0) == 0;
}

absl::StatusOr<std::string> BuildConversionSecretXml(const std::string& secret_uuid,
                                                     const std::string& volume_id,
                                                     bool ephemeral) {
  VOLCRYPT_ASSIGN_OR_RETURN(std::string xml,
                            BuildSecretXml(secret_uuid, volume_id, ephemeral));
  // The usage is the one text BuildSecretXml wrote from the checked id.
  const std::string from = absl::StrCat(">", SecretUsageId(volume_id), "<");
  const size_t at = xml.find(from);
  if (at == std::string::npos) return absl::InternalError("secret XML without its usage");
  xml.replace(at, from.size(),
              absl::StrCat(">", ConversionSecretUsageId(volume_id, secret_uuid), "<"));
  return xml;
}

absl::StatusOr<std::string> BuildSecretXml(const std::string& secret_uuid,
                                           const std::string& volume_id,
                                           bool ephemeral) {
  VOLCRYPT_RETURN_IF_ERROR(ValidateKeyId(secret_uuid));
  VOLCRYPT_RETURN_IF_ERROR(CheckText("volume id", volume_id));
  if (volume_id.empty() || volume_id.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(
        "a secret's volume id must be non-empty and hold no '/'");
  }
  XmlDoc doc("secret");
  XmlDoc::Attr(doc.root(), "ephemeral", ephemeral ? "yes" : "no");
  XmlDoc::Attr(doc.root(), "private", "yes");
  XmlDoc::TextChild(doc.root(), "uuid", secret_uuid);
  XmlDoc::TextChild(doc.root(), "description",
                    absl::StrCat("volcrypt key of volume ", volume_id));
  xmlNodePtr usage = XmlDoc::Child(doc.root(), "usage");
  XmlDoc::Attr(usage, "type", "volume");
  XmlDoc::TextChild(usage, "volume", SecretUsageId(volume_id));
  return doc.Serialize();
}

std::string CephSecretUsageName(const std::string& client_id) {
  return absl::StrCat("client.", client_id, " secret");
}

absl::StatusOr<std::string> BuildCephSecretXml(const std::string& secret_uuid,
                                               const std::string& client_id) {
  VOLCRYPT_RETURN_IF_ERROR(ValidateKeyId(secret_uuid));
  const bool name_ok =
      !client_id.empty() && client_id.size() <= 64 &&
      client_id.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
          std::string::npos;
  if (!name_ok) {
    return absl::InvalidArgumentError(
        "cephx user " + QuoteForMessage(client_id) +
        " is not a name of letters, digits, '.', '_' or '-' (without \"client.\")");
  }
  XmlDoc doc("secret");
  XmlDoc::Attr(doc.root(), "ephemeral", "no");
  XmlDoc::Attr(doc.root(), "private", "yes");
  XmlDoc::TextChild(doc.root(), "uuid", secret_uuid);
  XmlDoc::TextChild(doc.root(), "description",
                    absl::StrCat("cephx key of client.", client_id, " (volcrypt)"));
  xmlNodePtr usage = XmlDoc::Child(doc.root(), "usage");
  XmlDoc::Attr(usage, "type", "ceph");
  XmlDoc::TextChild(usage, "name", CephSecretUsageName(client_id));
  return doc.Serialize();
}

absl::StatusOr<std::string> BuildDiskXml(const DiskXmlOptions& o) {
  VOLCRYPT_RETURN_IF_ERROR(ValidateKeyId(o.secret_uuid));
  VOLCRYPT_RETURN_IF_ERROR(CheckTarget(o));
  VOLCRYPT_RETURN_IF_ERROR(CheckText("volume id", o.volume_id));
  VOLCRYPT_RETURN_IF_ERROR(CheckText("disk path", o.source.path));
  VOLCRYPT_RETURN_IF_ERROR(CheckText("rbd pool", o.source.pool));
  VOLCRYPT_RETURN_IF_ERROR(CheckText("rbd image", o.source.image));
  const bool network = o.source.type == DiskSource::Type::kNetwork;
  EncryptionSpec spec;
  spec.format = o.format;
  spec.engine = o.engine;
  VOLCRYPT_RETURN_IF_ERROR(ValidateEngine(spec, network));

  XmlDoc doc("disk");
  const char* type = network ? "network"
                     : o.source.type == DiskSource::Type::kBlock ? "block"
                                                                 : "file";
  XmlDoc::Attr(doc.root(), "type", type);
  XmlDoc::Attr(doc.root(), "device", "disk");
  xmlNodePtr driver = XmlDoc::Child(doc.root(), "driver");
  XmlDoc::Attr(driver, "name", "qemu");
  XmlDoc::Attr(driver, "type", "raw");

  if (network && !o.source.auth_username.empty() && !o.source.auth_secret_uuid.empty()) {
    xmlNodePtr auth = XmlDoc::Child(doc.root(), "auth");
    XmlDoc::Attr(auth, "username", o.source.auth_username);
    xmlNodePtr secret = XmlDoc::Child(auth, "secret");
    XmlDoc::Attr(secret, "type", "ceph");
    XmlDoc::Attr(secret, "uuid", o.source.auth_secret_uuid);
  }

  xmlNodePtr source = XmlDoc::Child(doc.root(), "source");
  if (network) {
    XmlDoc::Attr(source, "protocol", "rbd");
    XmlDoc::Attr(source, "name", absl::StrCat(o.source.pool, "/", o.source.image));
    for (const DiskSource::Host& h : o.source.hosts) {
      xmlNodePtr host = XmlDoc::Child(source, "host");
      XmlDoc::Attr(host, "name", h.name);
      if (h.port != 0) XmlDoc::Attr(host, "port", std::to_string(h.port));
    }
  } else {
    XmlDoc::Attr(source,
                 o.source.type == DiskSource::Type::kBlock ? "dev" : "file",
                 o.source.path);
  }
  xmlNodePtr encryption = XmlDoc::Child(source, "encryption");
  XmlDoc::Attr(encryption, "format",
               o.format == LuksFormat::kLuks1 ? "luks" : "luks2");
  // Always named, files too: libvirt 11.3 opens a blockcopy destination
  // whose <encryption> has no engine as RAW, without QEMU's luks layer
  // (only QEMU's size check then stops the plaintext from landing on the
  // header); 9.0 assumed 'qemu'. Both accept it.
  XmlDoc::Attr(encryption, "engine", std::string(EncryptionEngineName(o.engine)));
  xmlNodePtr secret = XmlDoc::Child(encryption, "secret");
  XmlDoc::Attr(secret, "type", "passphrase");
  XmlDoc::Attr(secret, "uuid", o.secret_uuid);

  xmlNodePtr target = XmlDoc::Child(doc.root(), "target");
  XmlDoc::Attr(target, "dev", o.target_dev);
  XmlDoc::Attr(target, "bus", o.target_bus);
  if (!o.volume_id.empty()) XmlDoc::TextChild(doc.root(), "serial", o.volume_id);
  return doc.Serialize();
}

}  // namespace volcrypt
