// Reading disks out of a libvirt domain XML.
#ifndef VOLCRYPT_LIB_ATTACH_DOMAIN_DISKS_H_
#define VOLCRYPT_LIB_ATTACH_DOMAIN_DISKS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"

namespace volcrypt {

struct DomainDisk {
  std::string xml;          // the <disk> element, as libvirt wants it back
  std::string serial;       // "" if none
  std::string target_dev;   // "" if none
  std::string secret_uuid;  // of its <encryption>; "" if none
  std::string path;         // <source file> or <source dev>; "" if none
  std::string network_name; // <source name> of a network disk ("pool/image")
  // A block copy in progress (live XML only): its <mirror>.
  bool mirror = false;
  std::string mirror_ready;        // its ready attribute: "yes" once mirroring
  std::string mirror_source;       // path or "pool/image" of the destination
  std::string mirror_secret_uuid;  // of the destination's <encryption>
};

// Every /domain/devices/disk. InvalidArgument if `domain_xml` does not parse.
absl::StatusOr<std::vector<DomainDisk>> ListDisks(const std::string& domain_xml);

// Returns the disk whose <target dev> is `target_dev`, or nullopt.
// InvalidArgument if `domain_xml` does not parse.
absl::StatusOr<absl::optional<DomainDisk>> FindDiskByTarget(
    const std::string& domain_xml, const std::string& target_dev);

// True if any disk's <encryption> refers to secret `uuid`.
absl::StatusOr<bool> UsesSecret(const std::string& domain_xml,
                                const std::string& uuid);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_ATTACH_DOMAIN_DISKS_H_
