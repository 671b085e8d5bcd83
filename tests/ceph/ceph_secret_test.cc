// The libvirt secret of usage 'ceph' that rbd disks' <auth> names: volcrypt
// reads the client's cephx key from its keyring, defines or updates the
// secret, checks it, and attach refuses an rbd volume whose secret is
// missing before it touches anything. (rbd_attach_test's volumes attach
// through a secret defined this way, so QEMU proves the value right.)
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cerrno>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "tests/ceph/ceph_testbed.h"
#include "tests/libvirt/libvirt_testbed.h"
#include "tests/support/embedded_stack.h"
#include "tests/support/test_support.h"
#include "volcrypt/attacher.h"
#include "volcrypt/errors.h"
#include "volcrypt/rbd_backend.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::CephTestbed;
using ::volcrypt::testing::EmbeddedStack;
using ::volcrypt::testing::EmbeddedStackOptions;
using ::volcrypt::testing::LibvirtProbe;
using ::volcrypt::testing::LibvirtTestbed;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::TempDir;

::testing::Environment* const kCeph = ::testing::AddGlobalTestEnvironment(new CephTestbed);
::testing::Environment* const kLibvirt =
    ::testing::AddGlobalTestEnvironment(new LibvirtTestbed);

constexpr char kDomain[] = "volcrypt-ceph-secret";
constexpr char kMissing[] = "c3c3c3c3-0000-4000-8000-00000000dead";

// client.admin's key as `ceph-authtool -p` prints it, decoded: what
// `virsh secret-set-value` would store.
std::string AuthtoolKey() {
  auto key = RunCommand({"ceph-authtool", "-p", "-n", "client.admin",
                         CephTestbed::dir() + "/keyring"});
  std::string raw;
  EXPECT_TRUE(absl::Base64Unescape(absl::StripAsciiWhitespace(key.out), &raw)) << key.err;
  return raw;
}

std::string AsString(const SecretBytes& s) { return std::string(s.char_data(), s.size()); }

class CephSecretTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (CephTestbed::conf().empty()) GTEST_SKIP() << CephTestbed::skip_reason();
    if (LibvirtTestbed::uri().empty()) GTEST_SKIP() << LibvirtTestbed::skip_reason();
    options_.ceph_conf = CephTestbed::conf();
    attacher_ = std::move(Attacher::Connect(LibvirtTestbed::uri()).value());
    if (probe_.SecretExists(kMissing)) probe_.UndefineSecret(kMissing);
  }

  void TearDown() override {
    if (LibvirtTestbed::uri().empty() || CephTestbed::conf().empty()) return;
    probe_.DestroyAndUndefine(kDomain);
    for (const std::string& uuid : defined_) {
      if (probe_.SecretExists(uuid)) probe_.UndefineSecret(uuid);
    }
  }

  std::string Define(const std::string& uuid) {
    SecretBytes key = ReadCephxKey(options_).value();
    absl::StatusOr<std::string> got = attacher_->DefineCephSecret(uuid, "admin", key);
    EXPECT_TRUE(got.ok()) << got.status();
    if (got.ok()) defined_.push_back(*got);
    return got.value_or("");
  }

  // A service whose rbd disks name libvirt ceph secret `uuid`.
  std::unique_ptr<EmbeddedStack> Stack(const std::string& uuid) {
    const std::string dir = tmp_.path() + "/stack-" + std::to_string(++stacks_);
    mkdir(dir.c_str(), 0700);
    RbdBackendOptions ro = options_;
    ro.libvirt_auth_secret_uuid = uuid;
    rbd_ = std::move(RbdBackend::Connect(ro).value());
    EmbeddedStackOptions o;
    o.dir = dir;
    o.rbd = rbd_.get();
    o.attacher = attacher_.get();
    return std::move(EmbeddedStack::Open(std::move(o)).value());
  }

  RbdBackendOptions options_;
  TempDir tmp_;
  LibvirtProbe probe_;
  std::unique_ptr<Attacher> attacher_;
  std::unique_ptr<RbdBackend> rbd_;
  std::vector<std::string> defined_;
  int stacks_ = 0;
};

TEST_F(CephSecretTest, ReadsTheKeyCephAuthtoolPrintsFromConfOrKeyring) {
  absl::StatusOr<SecretBytes> from_conf = ReadCephxKey(options_);
  ASSERT_TRUE(from_conf.ok()) << from_conf.status();
  EXPECT_EQ(AsString(*from_conf), AuthtoolKey());
  RbdBackendOptions explicit_keyring = options_;
  explicit_keyring.keyring = CephTestbed::dir() + "/keyring";
  EXPECT_EQ(AsString(ReadCephxKey(explicit_keyring).value()), AuthtoolKey());
}

TEST_F(CephSecretTest, AKeyringWithoutTheClientOrWithGarbageIsAOneLineErrorWithoutKeys) {
  RbdBackendOptions o = options_;
  o.client_id = "nobody";
  absl::Status missing = ReadCephxKey(o).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound) << missing;
  EXPECT_NE(missing.message().find("client.nobody"), std::string::npos) << missing;
  const std::string garbage = tmp_.path() + "/garbage.keyring";
  std::ofstream(garbage) << "[client.admin]\n\tkey = !!not*base64!!\n";
  o = options_;
  o.keyring = garbage;
  absl::Status bad = ReadCephxKey(o).status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument) << bad;
  EXPECT_EQ(std::string(bad.message()).find("not*base64"), std::string::npos) << bad;
  EXPECT_EQ(std::string(bad.message()).find('\n'), std::string::npos) << bad;
}

TEST_F(CephSecretTest, DefineMakesAPrivatePersistentCephSecretAndReusesItsUsage) {
  const std::string uuid = Define("");
  ASSERT_FALSE(uuid.empty());
  virSecretPtr s = virSecretLookupByUUIDString(probe_.conn(), uuid.c_str());
  ASSERT_NE(s, nullptr);
  char* xml = virSecretGetXMLDesc(s, 0);
  const std::string desc = xml ? xml : "";
  free(xml);
  virSecretFree(s);
  EXPECT_NE(desc.find("private='yes'"), std::string::npos) << desc;
  EXPECT_NE(desc.find("ephemeral='no'"), std::string::npos) << desc;
  EXPECT_NE(desc.find("<usage type='ceph'>"), std::string::npos) << desc;
  EXPECT_EQ(desc.find(AuthtoolKey()), std::string::npos);
  // Again without a UUID: the same secret, updated, not a second one.
  EXPECT_EQ(Define(""), uuid);
  SecretBytes key = ReadCephxKey(options_).value();
  absl::Status other = attacher_->DefineCephSecret(kMissing, "admin", key).status();
  EXPECT_EQ(ErrnoOf(other), EEXIST) << other;
  EXPECT_NE(other.message().find(uuid), std::string::npos) << other;
  EXPECT_FALSE(probe_.SecretExists(kMissing));
  EXPECT_TRUE(attacher_->CheckCephSecret(uuid, &key).ok());
}

TEST_F(CephSecretTest, CheckTellsMissingValuelessWrongAndForeignSecretsApart) {
  SecretBytes key = ReadCephxKey(options_).value();
  absl::Status missing = attacher_->CheckCephSecret(kMissing, &key);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound) << missing;
  EXPECT_NE(missing.message().find("ceph-secret define"), std::string::npos) << missing;
  // A readable (non-private) secret, as some deployments define it.
  const std::string open_xml = std::string("<secret ephemeral='no' private='no'><uuid>") +
                               kMissing + "</uuid><usage type='ceph'><name>client.admin "
                               "open secret</name></usage></secret>";
  probe_.DefineSecret(open_xml, "");
  EXPECT_EQ(ErrnoOf(attacher_->CheckCephSecret(kMissing, &key)), ENOKEY);
  probe_.UndefineSecret(kMissing);
  probe_.DefineSecret(open_xml, "not the cephx key");
  EXPECT_EQ(ErrnoOf(attacher_->CheckCephSecret(kMissing, &key)), EKEYREJECTED);
  EXPECT_TRUE(attacher_->CheckCephSecret(kMissing, nullptr).ok());
  probe_.UndefineSecret(kMissing);
  probe_.DefineSecret(open_xml, AuthtoolKey());
  EXPECT_TRUE(attacher_->CheckCephSecret(kMissing, &key).ok());
  probe_.UndefineSecret(kMissing);
  probe_.DefineSecret(std::string("<secret ephemeral='no' private='yes'><uuid>") + kMissing +
                          "</uuid><usage type='volume'><volume>/volcrypt/volumes/x"
                          "</volume></usage></secret>",
                      "v");
  EXPECT_EQ(ErrnoOf(attacher_->CheckCephSecret(kMissing, &key)), EEXIST);
  EXPECT_EQ(ErrnoOf(attacher_->DefineCephSecret(kMissing, "admin", key).status()), EEXIST);
  probe_.UndefineSecret(kMissing);
}

TEST_F(CephSecretTest, AttachRefusesAnRbdVolumeWhoseCephSecretIsMissingAndTouchesNothing) {
  probe_.DefineDomain(kDomain, /*start=*/true);
  const int secrets_before = probe_.SecretCount();
  for (const std::string& uuid : {std::string(kMissing), std::string()}) {
    std::unique_ptr<EmbeddedStack> stack = Stack(uuid);
    CreateVolumeRequest r;
    r.id = uuid.empty() ? "no-auth" : "missing-auth";
    r.location = VolumeLocation::Rbd("rbd", "volume-" + r.id);
    r.size_bytes = 8 << 20;
    ASSERT_TRUE(stack->service().CreateVolume(r).ok());
    AttachTarget live;
    live.domain = kDomain;
    absl::Status s = stack->service().AttachVolume(r.id, live, {}).status();
    EXPECT_EQ(ErrnoOf(s), uuid.empty() ? ENOKEY : ENOENT) << s;
    EXPECT_NE(s.message().find(uuid.empty() ? "--libvirt-ceph-secret" : kMissing),
              std::string::npos) << s;
    EXPECT_EQ(stack->store().GetVolume(r.id)->status, VolumeStatus::kAvailable);
    EXPECT_FALSE(stack->store().GetAttachment(r.id).ok());
    EXPECT_EQ(probe_.SecretCount(), secrets_before);
    EXPECT_EQ(probe_.DomainXml(kDomain, false).find("volume-" + r.id), std::string::npos);
    // A plan for a caller's own attach has no <auth> it could not fill.
    absl::StatusOr<AttachPlan> plan = stack->service().PlanAttach(r.id, {});
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_EQ(plan->disk_xml.find("<auth") != std::string::npos, !uuid.empty());
    ASSERT_TRUE(stack->service().DeleteVolume(r.id).ok());
  }
}

TEST_F(CephSecretTest, ADefinedSecretLetsQemuOpenTheVolumeLive) {
  probe_.DefineDomain(kDomain, /*start=*/true);
  std::unique_ptr<EmbeddedStack> stack = Stack(Define(""));
  CreateVolumeRequest r;
  r.id = "with-auth";
  r.location = VolumeLocation::Rbd("rbd", "volume-with-auth");
  r.size_bytes = 8 << 20;
  ASSERT_TRUE(stack->service().CreateVolume(r).ok());
  AttachTarget live;
  live.domain = kDomain;
  ASSERT_TRUE(stack->service().AttachVolume(r.id, live, {}).ok());
  const std::string block = probe_.Hmp(kDomain, "info block");
  EXPECT_NE(block.find("\"driver\": \"rbd\""), std::string::npos) << block;
  ASSERT_TRUE(stack->service().DetachVolume(r.id).ok());
  ASSERT_TRUE(stack->service().DeleteVolume(r.id).ok());
}

}  // namespace
}  // namespace volcrypt
