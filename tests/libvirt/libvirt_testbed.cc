#include "tests/libvirt/libvirt_testbed.h"

#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#include <unistd.h>

namespace volcrypt {
namespace testing {
namespace {

LibvirtTestbed* g_bed = nullptr;

}  // namespace

LibvirtTestbed::LibvirtTestbed() : ScriptTestbed("libvirtd.sh") { g_bed = this; }

void LibvirtTestbed::SetUp() {
  virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
  ScriptTestbed::SetUp();
}

const std::string& LibvirtTestbed::uri() { return g_bed->address(); }
const std::string& LibvirtTestbed::skip_reason() {
  return g_bed->ScriptTestbed::skip_reason();
}

LibvirtProbe::LibvirtProbe() {
  if (!LibvirtTestbed::uri().empty()) conn_ = virConnectOpen(LibvirtTestbed::uri().c_str());
}

LibvirtProbe::~LibvirtProbe() {
  if (conn_ != nullptr) virConnectClose(conn_);
}

void LibvirtProbe::DefineDomain(const std::string& name, bool start) {
  DestroyAndUndefine(name);
  // KVM where the machine has it, else QEMU's TCG (slower, same devices).
  const std::string type = access("/dev/kvm", W_OK) == 0 ? "kvm" : "qemu";
  const std::string xml =
      "<domain type='" + type + "'><name>" + name + "</name>"
      "<memory unit='MiB'>64</memory><vcpu>1</vcpu>"
      "<os><type arch='x86_64' machine='pc'>hvm</type></os>"
      "<devices><controller type='usb' model='none'/>"
      "<controller type='scsi' index='0' model='virtio-scsi'/>"
      "<memballoon model='none'/></devices></domain>";
  virDomainPtr d = virDomainDefineXML(conn_, xml.c_str());
  ASSERT_NE(d, nullptr) << virGetLastErrorMessage();
  virDomainFree(d);
  if (start) StartPaused(name);
}

void LibvirtProbe::StartPaused(const std::string& name) {
  virDomainPtr d = virDomainLookupByName(conn_, name.c_str());
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(virDomainCreateWithFlags(d, VIR_DOMAIN_START_PAUSED), 0)
      << virGetLastErrorMessage();
  virDomainFree(d);
}

void LibvirtProbe::DestroyAndUndefine(const std::string& name) {
  virDomainPtr d = virDomainLookupByName(conn_, name.c_str());
  if (d == nullptr) return;
  if (virDomainIsActive(d) == 1) virDomainDestroy(d);
  virDomainUndefine(d);
  virDomainFree(d);
}

std::string LibvirtProbe::Hmp(const std::string& domain, const std::string& command) {
  virDomainPtr d = virDomainLookupByName(conn_, domain.c_str());
  char* out = nullptr;
  if (d != nullptr) {
    virDomainQemuMonitorCommand(d, command.c_str(), &out,
                                VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP);
    virDomainFree(d);
  }
  std::string result = out ? out : "";
  free(out);
  return result;
}

std::string LibvirtProbe::DomainXml(const std::string& domain, bool inactive) {
  virDomainPtr d = virDomainLookupByName(conn_, domain.c_str());
  if (d == nullptr) return "";
  char* xml = virDomainGetXMLDesc(d, inactive ? VIR_DOMAIN_XML_INACTIVE : 0);
  virDomainFree(d);
  std::string result = xml ? xml : "";
  free(xml);
  return result;
}

uint64_t LibvirtProbe::Capacity(const std::string& domain, const std::string& target) {
  virDomainPtr d = virDomainLookupByName(conn_, domain.c_str());
  virDomainBlockInfo info = {};
  if (d != nullptr) {
    virDomainGetBlockInfo(d, target.c_str(), &info, 0);
    virDomainFree(d);
  }
  return info.capacity;
}

int LibvirtProbe::SecretCount() { return virConnectNumOfSecrets(conn_); }

bool LibvirtProbe::SecretExists(const std::string& uuid) {
  virSecretPtr s = virSecretLookupByUUIDString(conn_, uuid.c_str());
  if (s == nullptr) return false;
  virSecretFree(s);
  return true;
}

}  // namespace testing
}  // namespace volcrypt
