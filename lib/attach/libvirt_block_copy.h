// The libvirt calls behind Attacher's block-copy methods (attacher.cc's
// LibvirtAttacher forwards to these). The flow that orders them is
// block_copy.h.
#ifndef VOLCRYPT_LIB_ATTACH_LIBVIRT_BLOCK_COPY_H_
#define VOLCRYPT_LIB_ATTACH_LIBVIRT_BLOCK_COPY_H_

#include <libvirt/libvirt.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "volcrypt/attacher.h"

namespace volcrypt {

absl::StatusOr<absl::optional<LiveDiskState>> LibvirtInspectLiveDisk(
    virDomainPtr dom, const std::string& target_dev);
absl::Status LibvirtStartBlockCopy(virDomainPtr dom, const std::string& target_dev,
                                   const std::string& destination_xml,
                                   uint64_t bandwidth);
absl::Status LibvirtPivotBlockCopy(virDomainPtr dom, const std::string& target_dev);
absl::Status LibvirtAbortBlockCopy(virDomainPtr dom, const std::string& target_dev);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_ATTACH_LIBVIRT_BLOCK_COPY_H_
