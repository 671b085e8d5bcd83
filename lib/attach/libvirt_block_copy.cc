#include "lib/attach/libvirt_block_copy.h"

#include <libvirt/virterror.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "lib/attach/domain_disks.h"
#include "lib/attach/libvirt_call.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace {

// A public libvirt call clears the thread's last error, virDomainGetName
// too: names for messages are taken before the call that may fail.
std::string Name(virDomainPtr dom) {
  const char* n = virDomainGetName(dom);
  return n ? n : "?";
}

absl::StatusOr<std::string> LiveXml(virDomainPtr dom) {
  const std::string what = "domain XML of " + Name(dom);
  char* xml = virDomainGetXMLDesc(dom, 0);
  if (xml == nullptr) return LibvirtError(what);
  std::string out = xml;
  free(xml);
  return out;
}

absl::Status CheckRunning(virDomainPtr dom) {
  const std::string name = Name(dom);
  const int active = virDomainIsActive(dom);
  if (active < 0) return LibvirtError("domain " + name);
  if (active == 0) {
    return ErrnoError(absl::StatusCode::kFailedPrecondition, ESRCH,
                      absl::StrCat("domain ", name, " is not running"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<absl::optional<LiveDiskState>> LibvirtInspectLiveDisk(
    virDomainPtr dom, const std::string& target_dev) {
  VOLCRYPT_RETURN_IF_ERROR(CheckRunning(dom));
  VOLCRYPT_ASSIGN_OR_RETURN(std::string xml, LiveXml(dom));
  VOLCRYPT_ASSIGN_OR_RETURN(absl::optional<DomainDisk> disk,
                            FindDiskByTarget(xml, target_dev));
  if (!disk) return absl::optional<LiveDiskState>();
  LiveDiskState s;
  s.serial = disk->serial;
  s.source = disk->path.empty() ? disk->network_name : disk->path;
  s.secret_uuid = disk->secret_uuid;
  s.copying = disk->mirror;
  s.copy_ready = disk->mirror_ready == "yes";
  s.copy_destination = disk->mirror_source;
  s.copy_secret_uuid = disk->mirror_secret_uuid;
  const std::string where = absl::StrCat(target_dev, " in ", Name(dom));
  virDomainBlockInfo info = {};
  if (virDomainGetBlockInfo(dom, target_dev.c_str(), &info, 0) != 0) {
    return LibvirtError("size of " + where);
  }
  s.capacity_bytes = info.capacity;
  if (s.copying) {
    virDomainBlockJobInfo job = {};
    const int rc = virDomainGetBlockJobInfo(dom, target_dev.c_str(), &job, 0);
    if (rc < 0) return LibvirtError("block job on " + where);
    if (rc == 1) {
      s.copied_bytes = job.cur;
      s.copy_total_bytes = job.end;
    }
  }
  return absl::optional<LiveDiskState>(std::move(s));
}

absl::Status LibvirtStartBlockCopy(virDomainPtr dom, const std::string& target_dev,
                                   const std::string& destination_xml,
                                   uint64_t bandwidth) {
  VOLCRYPT_RETURN_IF_ERROR(CheckRunning(dom));
  const std::string what = absl::StrCat("block copy of ", target_dev, " in ", Name(dom));
  virTypedParameterPtr params = nullptr;
  int nparams = 0;
  int maxparams = 0;
  if (bandwidth != 0 &&
      virTypedParamsAddULLong(&params, &nparams, &maxparams,
                              VIR_DOMAIN_BLOCK_COPY_BANDWIDTH, bandwidth) != 0) {
    return LibvirtError(what + ": bandwidth");
  }
  // REUSE_EXT: the destination exists, formatted with its own LUKS header,
  // which libvirt must not replace. TRANSIENT_JOB: libvirt refuses a copy
  // of a persistent domain's disk otherwise ("domain is not transient").
  const int rc = virDomainBlockCopy(
      dom, target_dev.c_str(), destination_xml.c_str(), params, nparams,
      VIR_DOMAIN_BLOCK_COPY_REUSE_EXT | VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB);
  // Read the error first: every libvirt call, even a free, clears it.
  absl::Status s = rc == 0 ? absl::OkStatus() : LibvirtError(what);
  virTypedParamsFree(params, nparams);
  return s;
}

absl::Status LibvirtPivotBlockCopy(virDomainPtr dom, const std::string& target_dev) {
  const std::string what = absl::StrCat("pivot of ", target_dev, " in ", Name(dom));
  // Synchronous: returns once QEMU has switched and libvirt has rewritten
  // the live and persistent definitions.
  if (virDomainBlockJobAbort(dom, target_dev.c_str(), VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT) != 0) {
    return LibvirtError(what);
  }
  return absl::OkStatus();
}

absl::Status LibvirtAbortBlockCopy(virDomainPtr dom, const std::string& target_dev) {
  const std::string what = absl::StrCat("abort block copy of ", target_dev, " in ", Name(dom));
  VOLCRYPT_ASSIGN_OR_RETURN(std::string xml, LiveXml(dom));
  VOLCRYPT_ASSIGN_OR_RETURN(absl::optional<DomainDisk> disk,
                            FindDiskByTarget(xml, target_dev));
  if (!disk || !disk->mirror) return absl::OkStatus();
  if (virDomainBlockJobAbort(dom, target_dev.c_str(), 0) != 0) {
    virErrorPtr err = virGetLastError();
    // Gone between the look and the abort (QEMU failed it): done.
    if (err != nullptr && err->code == VIR_ERR_OPERATION_INVALID) {
      virResetLastError();
    } else {
      return LibvirtError(what);
    }
  }
  // The synchronous abort returns once QEMU ended the job; libvirt drops
  // the <mirror> when it processes the event, a moment later.
  for (int i = 0; i < 100; ++i) {
    VOLCRYPT_ASSIGN_OR_RETURN(xml, LiveXml(dom));
    VOLCRYPT_ASSIGN_OR_RETURN(disk, FindDiskByTarget(xml, target_dev));
    if (!disk || !disk->mirror) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ErrnoError(absl::StatusCode::kDeadlineExceeded, ETIMEDOUT,
                    what + ": the job did not end in 5 s");
}

}  // namespace volcrypt
