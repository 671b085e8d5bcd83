// Reading disks out of a domain XML (lib/attach/domain_disks.h), through
// libxml2 loaded on first use (lib/attach/libxml_loader.h): every field,
// the text xmlFree releases, and a document that does not parse.
#include "lib/attach/domain_disks.h"

#include <gtest/gtest.h>

#include "lib/attach/libxml_loader.h"

namespace volcrypt {
namespace {

constexpr char kDomain[] = R"(<domain type="kvm"><name>d</name><devices>
  <disk type="file" device="disk">
    <source file="/v/a.img"><encryption format="luks"><secret type="passphrase"
      uuid="11111111-2222-3333-4444-555555555555"/></encryption></source>
    <target dev="sdb" bus="scsi"/><serial>vol-a</serial>
    <mirror type="file" ready="yes"><source file="/v/b.img"/></mirror>
  </disk>
  <disk type="network" device="disk"><source protocol="rbd" name="pool/img"/>
    <target dev="sdc" bus="scsi"/></disk>
</devices></domain>)";

TEST(DomainDisksTest, ReadsEveryFieldThroughTheLoadedLibxml2) {
  absl::StatusOr<std::vector<DomainDisk>> disks = ListDisks(kDomain);
  ASSERT_TRUE(disks.ok()) << disks.status();
  EXPECT_EQ(LibxmlLoadError(), "");
  ASSERT_EQ(disks->size(), 2u);
  const DomainDisk& a = (*disks)[0];
  EXPECT_EQ(a.path, "/v/a.img");
  EXPECT_EQ(a.target_dev, "sdb");
  EXPECT_EQ(a.serial, "vol-a");
  EXPECT_EQ(a.secret_uuid, "11111111-2222-3333-4444-555555555555");
  EXPECT_TRUE(a.mirror);
  EXPECT_EQ(a.mirror_ready, "yes");
  EXPECT_EQ(a.mirror_source, "/v/b.img");
  EXPECT_NE(a.xml.find("<serial>vol-a</serial>"), std::string::npos) << a.xml;
  EXPECT_EQ((*disks)[1].network_name, "pool/img");
  absl::StatusOr<bool> uses = UsesSecret(kDomain, "11111111-2222-3333-4444-555555555555");
  ASSERT_TRUE(uses.ok());
  EXPECT_TRUE(*uses);
}

TEST(DomainDisksTest, XmlThatDoesNotParseIsInvalidArgument) {
  EXPECT_EQ(ListDisks("<domain><devices>").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace volcrypt
