// File: volcrypt/attach_xml.h
// -----------------------------------------------------------------------------
// The libvirt documents an encrypted attach needs: the secret (the key
// container) and the disk. Built with libxml2, so every value is escaped, and
// valid against libvirt's schemas. Neither ever holds key bytes: the
// passphrase goes into the secret with virSecretSetValue, not through XML.
//
// Every attach gets a secret of its own: a new random UUID (kept in the
// attachment record), with usage (type 'volume') "/volcrypt/volumes/<volume
// id>": an absolute path, as libvirt's schema requires, and unique per secret
// because a volume is attached once at a time. No two volumes share a secret,
// even where they share a key (the fixed key). Secrets of older versions
// (UUID = key id, usage "/volcrypt/keys/<key id>") are still volcrypt's. See
// docs/design.md.
//
//   absl::StatusOr<std::string> secret = BuildSecretXml(uuid, "v1", false);
//   DiskXmlOptions disk;  disk.source = ...; disk.secret_uuid = uuid; ...
//   absl::StatusOr<std::string> xml = BuildDiskXml(disk);
#ifndef VOLCRYPT_ATTACH_XML_H_
#define VOLCRYPT_ATTACH_XML_H_

#include <string>

#include "absl/status/statusor.h"
#include "volcrypt/block_backend.h"
#include "volcrypt/encryption_spec.h"
#include "volcrypt/secret_bytes.h"

namespace volcrypt {

// "/volcrypt/volumes/<volume_id>": the usage id of a volume's secret.
std::string SecretUsageId(const std::string& volume_id);

// True if a secret with usage id `usage_id` is volcrypt's: it starts with
// "/volcrypt/" (which also covers "/volcrypt/keys/<key id>" of older
// versions).
bool IsVolcryptUsage(const std::string& usage_id);

// The secret XML: private='yes' (libvirt never hands the value back out),
// ephemeral as asked (ephemeral='yes' keeps the value in libvirtd's memory
// only; 'no' also stores it, base64, in libvirtd's state directory).
// InvalidArgument if secret_uuid is not a UUID, or volume_id is empty or
// holds '/' (it becomes part of the usage path).
absl::StatusOr<std::string> BuildSecretXml(
    const std::string& secret_uuid, const std::string& volume_id, bool ephemeral);

// The XML of the libvirt secret that rbd disks' <auth> names: usage 'ceph',
// usage name CephSecretUsageName(client_id), private and persistent (QEMU
// needs it at every domain start, not only while volcrypt runs).
// InvalidArgument if secret_uuid is not a UUID or client_id is not a cephx
// user name (letters, digits, '.', '_', '-'; without "client.").
absl::StatusOr<std::string> BuildCephSecretXml(const std::string& secret_uuid,
                                               const std::string& client_id);

// "client.<client_id> secret": the usage name libvirt's docs and nova use.
std::string CephSecretUsageName(const std::string& client_id);

// The secret a live conversion (online_conversion.h) gives the destination
// of volume `volume_id` while the disk still decrypts through its current
// secret: libvirt allows one secret per usage id, so its usage is
// SecretUsageId(volume_id) + "/" + its UUID (still volcrypt's, still the
// volume's). Its UUID is derived from the volume id and the destination's
// key id (a hash, UUID-shaped), so that a record holding either finds it
// after a crash without another column.
std::string ConversionSecretUuid(const std::string& volume_id, const std::string& key_id);
std::string ConversionSecretUsageId(const std::string& volume_id,
                                    const std::string& secret_uuid);
// True if `usage_id` is volume `volume_id`'s: its attach secret's or a
// conversion's.
bool IsSecretUsageOf(const std::string& usage_id, const std::string& volume_id);
// The secret XML of ConversionSecretUsageId; otherwise as BuildSecretXml.
absl::StatusOr<std::string> BuildConversionSecretXml(const std::string& secret_uuid,
                                                     const std::string& volume_id,
                                                     bool ephemeral);

struct DiskXmlOptions {
  std::string volume_id;  // becomes the disk's <serial>
  DiskSource source;
  LuksFormat format = LuksFormat::kLuks1;
  EncryptionEngine engine = EncryptionEngine::kQemu;
  std::string secret_uuid;  // the attach's secret
  std::string target_dev = "sdb";
  std::string target_bus = "scsi";
};

// The disk XML with <encryption format='luks'|'luks2'> pointing at the
// secret. InvalidArgument for combinations that cannot work: LUKS2 with
// QEMU's engine, the librbd engine on a non-rbd disk, a bad target.
absl::StatusOr<std::string> BuildDiskXml(
    const DiskXmlOptions& options);

// Everything needed to attach a volume (VolumeService::PlanAttach): the
// secret XML (the key container; see above for its UUID), the disk XML,
// and the passphrase to set as the secret's value through virSecretSetValue.
// Only `passphrase` is secret.
struct AttachPlan {
  std::string volume_id;
  std::string secret_uuid;
  std::string secret_xml;
  std::string disk_xml;
  SecretBytes passphrase;
  bool formatted_now = false;  // the first use formatted the volume
};

}  // namespace volcrypt

#endif  // VOLCRYPT_ATTACH_XML_H_
