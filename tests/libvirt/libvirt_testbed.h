// The libvirt test bed: a private libvirtd started by
// tests/scripts/libvirtd.sh for the whole test program, and small paused
// domains with no OS and a virtio-scsi controller. Everything is stopped by
// PID at the end. Without root or libvirtd the tests are skipped (exit 77).
#ifndef VOLCRYPT_TESTS_LIBVIRT_LIBVIRT_TESTBED_H_
#define VOLCRYPT_TESTS_LIBVIRT_LIBVIRT_TESTBED_H_

#include <libvirt/libvirt.h>

#include <string>

#include "tests/support/script_testbed.h"
#include "tests/support/test_support.h"

namespace volcrypt {
namespace testing {

// Register one per program (AddGlobalTestEnvironment(new LibvirtTestbed)).
class LibvirtTestbed : public ScriptTestbed {
 public:
  LibvirtTestbed();
  void SetUp() override;

  // "" when the test bed could not start (tests skip with the reason).
  static const std::string& uri();
  static const std::string& skip_reason();
  // Kills the private libvirtd (by its PID) and the QEMUs it started; its
  // state (persistent domains and secrets) stays for RestartDaemon().
  static void StopDaemon();
  static bool RestartDaemon();
  // True when the daemon is the current stack's (VOLCRYPT_CURRENT_STACK=1:
  // Debian 13's libvirt 11.3, QEMU 10.0 and librbd 18.2, tests/scripts/
  // current_stack.sh), false for Debian 12's libvirt 9.0 and QEMU 7.2.
  // Tests whose expectation differs between the two (what the newer
  // libvirt lifts) ask this, never the code under test's own probe.
  static bool CurrentStack();
};

// A libvirt connection for assertions (independent of the code under test).
class LibvirtProbe {
 public:
  LibvirtProbe();
  ~LibvirtProbe();
  virConnectPtr conn() const { return conn_; }
  // A new connection, after the daemon restarted.
  void Reconnect();

  // Defines a domain named `name` (replacing any) and, if `start`, starts it
  // paused.
  void DefineDomain(const std::string& name, bool start);
  void DestroyAndUndefine(const std::string& name);
  void StartPaused(const std::string& name);
  // HMP through the QEMU monitor ("info block").
  std::string Hmp(const std::string& domain, const std::string& command);
  std::string DomainXml(const std::string& domain, bool inactive);
  // Capacity of the guest disk on `target` (virDomainGetBlockInfo).
  uint64_t Capacity(const std::string& domain, const std::string& target);
  int SecretCount();
  bool SecretExists(const std::string& uuid);
  // The UUID of the secret with volume usage `usage`, "" if none.
  std::string SecretWithUsage(const std::string& usage);
  // Defines a secret from `xml` with `value` ("" for none).
  void DefineSecret(const std::string& xml, const std::string& value);
  void UndefineSecret(const std::string& uuid);
  // virDomainAttachDeviceFlags / DetachDeviceFlags, behind volcrypt's back.
  void AttachDevice(const std::string& domain, const std::string& xml, unsigned flags);
  void DetachDevice(const std::string& domain, const std::string& xml, unsigned flags);
  // Destroys the running domain and starts it again (paused); "" or
  // libvirt's error.
  std::string Restart(const std::string& domain);

 private:
  virConnectPtr conn_ = nullptr;
};

}  // namespace testing
}  // namespace volcrypt

#endif  // VOLCRYPT_TESTS_LIBVIRT_LIBVIRT_TESTBED_H_
