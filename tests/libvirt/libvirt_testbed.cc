#include "tests/libvirt/libvirt_testbed.h"

#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#include <signal.h>
#include <unistd.h>

#include <cstdlib>

namespace volcrypt {
namespace testing {
namespace {

LibvirtTestbed* g_bed = nullptr;

}  // namespace

LibvirtTestbed::LibvirtTestbed() : ScriptTestbed("libvirtd.sh") { g_bed = this; }

void LibvirtTestbed::SetUp() {
  // A connection that libvirtd drops (StopDaemon) must become an error, not
  // kill the test program: libvirt leaves SIGPIPE to the application.
  signal(SIGPIPE, SIG_IGN);
  virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
  ScriptTestbed::SetUp();
}

const std::string& LibvirtTestbed::uri() { return g_bed->address(); }
const std::string& LibvirtTestbed::skip_reason() {
  return g_bed->ScriptTestbed::skip_reason();
}

void LibvirtTestbed::StopDaemon() { g_bed->Stop(); }
bool LibvirtTestbed::RestartDaemon() { return g_bed->Restart(); }

bool LibvirtTestbed::CurrentStack() {
  const char* v = std::getenv("VOLCRYPT_CURRENT_STACK");
  return v != nullptr && std::string(v) == "1";
}

void LibvirtProbe::Reconnect() {
  if (conn_ != nullptr) virConnectClose(conn_);
  conn_ = virConnectOpen(LibvirtTestbed::uri().c_str());
}

std::string LibvirtProbe::SecretWithUsage(const std::string& usage) {
  virSecretPtr s = virSecretLookupByUsage(conn_, VIR_SECRET_USAGE_TYPE_VOLUME, usage.c_str());
  if (s == nullptr) return "";
  char uuid[VIR_UUID_STRING_BUFLEN] = {};
  virSecretGetUUIDString(s, uuid);
  virSecretFree(s);
  return uuid;
}

void LibvirtProbe::DefineSecret(const std::string& xml, const std::string& value) {
  virSecretPtr s = virSecretDefineXML(conn_, xml.c_str(), 0);
  ASSERT_NE(s, nullptr) << virGetLastErrorMessage();
  if (!value.empty()) {
    EXPECT_EQ(virSecretSetValue(s, reinterpret_cast<const unsigned char*>(value.data()),
                                value.size(), 0),
              0)
        << virGetLastErrorMessage();
  }
  virSecretFree(s);
}

void LibvirtProbe::UndefineSecret(const std::string& uuid) {
  virSecretPtr s = virSecretLookupByUUIDString(conn_, uuid.c_str());
  if (s == nullptr) return;
  virSecretUndefine(s);
  virSecretFree(s);
}

void LibvirtProbe::AttachDevice(const std::string& domain, const std::string& xml,
                                unsigned flags) {
  virDomainPtr d = virDomainLookupByName(conn_, domain.c_str());
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(virDomainAttachDeviceFlags(d, xml.c_str(), flags), 0) << virGetLastErrorMessage();
  virDomainFree(d);
}

void LibvirtProbe::DetachDevice(const std::string& domain, const std::string& xml,
                                unsigned flags) {
  virDomainPtr d = virDomainLookupByName(conn_, domain.c_str());
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(virDomainDetachDeviceFlags(d, xml.c_str(), flags), 0) << virGetLastErrorMessage();
  virDomainFree(d);
}

std::string LibvirtProbe::Restart(const std::string& domain) {
  virDomainPtr d = virDomainLookupByName(conn_, domain.c_str());
  if (d == nullptr) return virGetLastErrorMessage();
  if (virDomainIsActive(d) == 1) virDomainDestroy(d);
  std::string err;
  if (virDomainCreateWithFlags(d, VIR_DOMAIN_START_PAUSED) != 0) err = virGetLastErrorMessage();
  virDomainFree(d);
  return err;
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
