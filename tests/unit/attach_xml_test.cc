#include "volcrypt/attach_xml.h"

#include <fstream>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::HaveTool;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::StatusIsWith;
using ::volcrypt::testing::TempDir;

constexpr char kKeyId[] = "3f2a1b4c-5d6e-4f70-8192-a3b4c5d6e7f8";
constexpr char kNasty[] = "v'\"<>&";

// Validates `xml` against libvirt's schema `kind` with virt-xml-validate.
void ExpectValid(const std::string& xml, const std::string& kind) {
  if (!HaveTool("virt-xml-validate")) GTEST_SKIP() << "libvirt-clients is not installed";
  TempDir tmp;
  const std::string path = tmp.File("doc.xml");
  std::ofstream(path) << xml;
  auto r = RunCommand({"virt-xml-validate", path, kind});
  EXPECT_EQ(r.exit_code, 0) << xml << "\n" << r.out << r.err;
}

// A disk is validated inside the smallest domain libvirt's schema accepts.
std::string InDomain(const std::string& disk) {
  return "<domain type='kvm'><name>t</name><memory>65536</memory>"
         "<os><type>hvm</type></os><devices>" + disk + "</devices></domain>";
}

TEST(AttachXmlTest, SecretIsPrivateUsedByItsVolumeAndHoldsNoValue) {
  absl::StatusOr<std::string> xml = BuildSecretXml(kKeyId, kNasty, false);
  ASSERT_TRUE(xml.ok()) << xml.status();
  EXPECT_NE(xml->find("private=\"yes\""), std::string::npos);
  EXPECT_NE(xml->find("ephemeral=\"no\""), std::string::npos);
  EXPECT_NE(xml->find(std::string("<uuid>") + kKeyId + "</uuid>"), std::string::npos);
  // The usage is the volume's, so volumes sharing a key never share it.
  EXPECT_NE(xml->find("<volume>/volcrypt/volumes/v'\"&lt;&gt;&amp;</volume>"),
            std::string::npos) << *xml;
  EXPECT_EQ(xml->find("<value"), std::string::npos);
  // The volume id is escaped in the description.
  EXPECT_NE(xml->find("v'\"&lt;&gt;&amp;"), std::string::npos) << *xml;
  ExpectValid(*xml, "secret");
}

TEST(AttachXmlTest, EphemeralSecret) {
  EXPECT_NE(BuildSecretXml(kKeyId, "v", true)->find("ephemeral=\"yes\""),
            std::string::npos);
}

TEST(AttachXmlTest, SecretNeedsAUuidAndAVolumeIdThatIsNoPath) {
  EXPECT_THAT(BuildSecretXml("not-a-uuid", "v", false),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(BuildSecretXml(kKeyId, "", false), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(BuildSecretXml(kKeyId, "../keys/x", false),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(AttachXmlTest, VolcryptsSecretsAreThoseUnderItsUsagePrefixOldAndNew) {
  EXPECT_EQ(SecretUsageId("vol-1"), "/volcrypt/volumes/vol-1");
  EXPECT_TRUE(IsVolcryptUsage(SecretUsageId("vol-1")));
  EXPECT_TRUE(IsVolcryptUsage(std::string("/volcrypt/keys/") + kKeyId));  // older versions
  EXPECT_FALSE(IsVolcryptUsage("/volcrypt"));
  EXPECT_FALSE(IsVolcryptUsage("/var/lib/nova/volcrypt/x"));
  EXPECT_FALSE(IsVolcryptUsage(""));
}

DiskXmlOptions FileDisk(const std::string& path) {
  DiskXmlOptions o;
  o.volume_id = "vol-1";
  o.source.type = DiskSource::Type::kFile;
  o.source.path = path;
  o.secret_uuid = kKeyId;
  return o;
}

TEST(AttachXmlTest, FileDiskWithLuksEncryptionEscapesThePath) {
  const std::string path = std::string("/vols/") + kNasty;
  absl::StatusOr<std::string> xml = BuildDiskXml(FileDisk(path));
  ASSERT_TRUE(xml.ok()) << xml.status();
  EXPECT_NE(xml->find("<disk type=\"file\" device=\"disk\">"), std::string::npos) << *xml;
  EXPECT_NE(xml->find("file=\"/vols/v'&quot;&lt;&gt;&amp;\""), std::string::npos) << *xml;
  // The engine is named for files too: libvirt 11.3 opens a blockcopy
  // destination without one as raw (current_stack.sh showed it).
  EXPECT_NE(xml->find("<encryption format=\"luks\" engine=\"qemu\">"), std::string::npos)
      << *xml;
  EXPECT_NE(xml->find(std::string("<secret type=\"passphrase\" uuid=\"") + kKeyId),
            std::string::npos);
  EXPECT_NE(xml->find("<target dev=\"sdb\" bus=\"scsi\"/>"), std::string::npos);
  EXPECT_NE(xml->find("<serial>vol-1</serial>"), std::string::npos);
  ExpectValid(InDomain(*xml), "domain");
}

TEST(AttachXmlTest, BlockDisk) {
  DiskXmlOptions o = FileDisk("/dev/loop7");
  o.source.type = DiskSource::Type::kBlock;
  absl::StatusOr<std::string> xml = BuildDiskXml(o);
  ASSERT_TRUE(xml.ok());
  EXPECT_NE(xml->find("<source dev=\"/dev/loop7\">"), std::string::npos) << *xml;
  ExpectValid(InDomain(*xml), "domain");
}

TEST(AttachXmlTest, RbdNetworkDiskWithBothEngines) {
  for (EncryptionEngine engine : {EncryptionEngine::kQemu, EncryptionEngine::kLibrbd}) {
    DiskXmlOptions o;
    o.volume_id = "vol-2";
    o.source.type = DiskSource::Type::kNetwork;
    o.source.pool = "volumes";
    o.source.image = "volume-2";
    o.source.hosts = {{"127.0.0.1", 3300}, {"::1", 3300}};
    o.source.auth_username = "admin";
    o.source.auth_secret_uuid = "0a0b0c0d-0000-4000-8000-000000000001";
    o.engine = engine;
    o.format = engine == EncryptionEngine::kLibrbd ? LuksFormat::kLuks2 : LuksFormat::kLuks1;
    o.secret_uuid = kKeyId;
    absl::StatusOr<std::string> xml = BuildDiskXml(o);
    ASSERT_TRUE(xml.ok()) << xml.status();
    EXPECT_NE(xml->find("<source protocol=\"rbd\" name=\"volumes/volume-2\">"),
              std::string::npos) << *xml;
    EXPECT_NE(xml->find("<host name=\"127.0.0.1\" port=\"3300\"/>"), std::string::npos);
    EXPECT_NE(xml->find("<auth username=\"admin\">"), std::string::npos);
    EXPECT_NE(xml->find(std::string("engine=\"") +
                        std::string(EncryptionEngineName(engine)) + "\""),
              std::string::npos);
    ExpectValid(InDomain(*xml), "domain");
  }
}

TEST(AttachXmlTest, RefusesImpossibleCombinations) {
  DiskXmlOptions o = FileDisk("/vols/v");
  o.format = LuksFormat::kLuks2;
  EXPECT_THAT(BuildDiskXml(o), StatusIsWith(absl::StatusCode::kInvalidArgument, "LUKS1"));
  o.format = LuksFormat::kLuks1;
  o.engine = EncryptionEngine::kLibrbd;
  EXPECT_THAT(BuildDiskXml(o), StatusIsWith(absl::StatusCode::kInvalidArgument, "rbd"));
  o = FileDisk("/vols/v");
  o.target_dev = "sdb'/><evil";
  EXPECT_THAT(BuildDiskXml(o), StatusIs(absl::StatusCode::kInvalidArgument));
  o = FileDisk("/vols/v");
  o.target_bus = "usb";
  EXPECT_THAT(BuildDiskXml(o), StatusIs(absl::StatusCode::kInvalidArgument));
  o = FileDisk(std::string("/vols/\xff\xfe"));
  EXPECT_THAT(BuildDiskXml(o), StatusIsWith(absl::StatusCode::kInvalidArgument, "UTF-8"));
}

}  // namespace
}  // namespace volcrypt

namespace volcrypt {
namespace {

TEST(ConversionSecretTest, UuidIsAUuidFixedByVolumeAndKeyAndDistinctForEither) {
  const std::string key = "5d6c1a3e-0000-4000-8000-00000000000a";
  const std::string a = ConversionSecretUuid("v1", key);
  EXPECT_TRUE(ValidateKeyId(a).ok()) << a;
  EXPECT_EQ(a, ConversionSecretUuid("v1", key));
  EXPECT_NE(a, ConversionSecretUuid("v2", key));
  // The fixed key's all-zeros id is shared; the secrets still are not.
  EXPECT_NE(ConversionSecretUuid("v1", "00000000-0000-0000-0000-000000000000"),
            ConversionSecretUuid("v2", "00000000-0000-0000-0000-000000000000"));
  EXPECT_NE(a, ConversionSecretUuid("v1", "5d6c1a3e-0000-4000-8000-00000000000b"));
}

TEST(ConversionSecretTest, UsageIsTheVolumesAndNoOthers) {
  const std::string uuid = ConversionSecretUuid("v1", "5d6c1a3e-0000-4000-8000-00000000000a");
  const std::string usage = ConversionSecretUsageId("v1", uuid);
  EXPECT_EQ(usage, "/volcrypt/volumes/v1/" + uuid);
  EXPECT_TRUE(IsVolcryptUsage(usage));
  EXPECT_TRUE(IsSecretUsageOf(usage, "v1"));
  EXPECT_TRUE(IsSecretUsageOf(SecretUsageId("v1"), "v1"));
  EXPECT_FALSE(IsSecretUsageOf(usage, "v"));
  EXPECT_FALSE(IsSecretUsageOf(SecretUsageId("v10"), "v1"));
  absl::StatusOr<std::string> xml = BuildConversionSecretXml(uuid, "v1", false);
  ASSERT_TRUE(xml.ok()) << xml.status();
  EXPECT_NE(xml->find("<volume>" + usage + "</volume>"), std::string::npos) << *xml;
  EXPECT_NE(xml->find("<uuid>" + uuid + "</uuid>"), std::string::npos) << *xml;
  EXPECT_FALSE(BuildConversionSecretXml(uuid, "a/b", false).ok());
}

}  // namespace
}  // namespace volcrypt
