// The block-copy primitive (lib/attach/block_copy.h) against a private
// libvirtd and a real running QEMU: a disk of a running domain moves onto a
// LUKS1 destination while QEMU-side writes keep landing (HMP qemu-io), the
// pivot switches it (live and persistent config), and every byte written
// before and during the copy reads back from the destination with its own
// key. Refusals leave the guest on its source with no job started.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/attach/block_copy.h"
#include "tests/libvirt/libvirt_testbed.h"
#include "tests/support/embedded_stack.h"
#include "tests/support/test_support.h"
#include "volcrypt/attacher.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::EmbeddedStack;
using ::volcrypt::testing::EmbeddedStackOptions;
using ::volcrypt::testing::LibvirtProbe;
using ::volcrypt::testing::LibvirtTestbed;
using ::volcrypt::testing::MakeSparseFile;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::TempDir;

::testing::Environment* const kTestbed = ::testing::AddGlobalTestEnvironment(new LibvirtTestbed);

constexpr uint64_t kSize = 32 << 20;
constexpr char kDomain[] = "volcrypt-copy";
constexpr char kDrive[] = "scsi0-0-0-1";  // QEMU's id of the disk on sdb

class BlockCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (LibvirtTestbed::uri().empty()) GTEST_SKIP() << LibvirtTestbed::skip_reason();
    attacher_ = std::move(Attacher::Connect(LibvirtTestbed::uri()).value());
    EmbeddedStackOptions o;
    o.dir = tmp_.path();
    o.attacher = attacher_.get();
    stack_ = std::move(EmbeddedStack::Open(std::move(o)).value());
    service_ = &stack_->service();
    probe_.DefineDomain(kDomain, /*start=*/true);
  }

  void TearDown() override {
    if (LibvirtTestbed::uri().empty()) return;
    probe_.DestroyAndUndefine(kDomain);
  }

  // A plain file on sdb (live and config), serial `id`, as an unconverted
  // volume is attached.
  std::string AttachPlain(const std::string& id) {
    const std::string path = tmp_.File(id);
    MakeSparseFile(path, kSize);
    probe_.AttachDevice(kDomain,
                        "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
                        "<source file='" + path + "'/><target dev='sdb' bus='scsi'/>"
                        "<serial>" + id + "</serial></disk>",
                        VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG);
    return path;
  }

  // A LUKS1 file volume and its libvirt secret: a copy's destination.
  AttachPlan Destination(const std::string& id, uint64_t size) {
    CreateVolumeRequest r;
    r.id = id;
    r.location = VolumeLocation::Path(tmp_.File(id));
    r.size_bytes = size;
    EXPECT_TRUE(service_->CreateVolume(r).ok());
    absl::StatusOr<AttachPlan> plan = service_->PlanAttach(id, {});
    EXPECT_TRUE(plan.ok()) << plan.status();
    EXPECT_TRUE(attacher_->DefineSecret(*plan).ok());
    return std::move(*plan);
  }

  BlockCopyRequest Request(const std::string& volume_id, const AttachPlan& dst,
                           uint64_t payload) {
    BlockCopyRequest r;
    r.domain = kDomain;
    r.target_dev = "sdb";
    r.volume_id = volume_id;
    r.destination.source.type = DiskSource::Type::kFile;
    r.destination.source.path = tmp_.File(dst.volume_id);
    r.destination.secret_uuid = dst.secret_uuid;
    r.destination_payload_bytes = payload;
    return r;
  }

  void Write(int pattern, uint64_t offset, uint64_t len) {
    const std::string out = probe_.Hmp(
        kDomain, absl::StrFormat("qemu-io -d %s \"write -P 0x%02x %d %d\"", kDrive, pattern,
                                 offset, len));
    EXPECT_EQ(out.find("rror"), std::string::npos) << out;
  }

  // qemu-io -c "read -P pattern offset len" on the LUKS file `path`, opened
  // with `passphrase` while the domain holds it (-U).
  std::string ReadLuks(const std::string& path, const SecretBytes& passphrase,
                       const std::vector<std::string>& reads) {
    std::vector<std::string> argv = {"qemu-io", "-r", "-U", "--object",
                                     "secret,id=s0,file=/dev/fd/3", "--image-opts",
                                     "driver=luks,key-secret=s0,file.filename=" + path};
    for (const std::string& c : reads) {
      argv.push_back("-c");
      argv.push_back(c);
    }
    auto r = RunCommand(argv, &passphrase);
    return r.out + r.err;
  }

  // Every read of ReadLuks ran and found its pattern.
  static void ExpectAllRead(const std::string& out, size_t reads) {
    size_t done = 0;
    for (size_t at = out.find("bytes at offset"); at != std::string::npos;
         at = out.find("bytes at offset", at + 1)) {
      ++done;
    }
    EXPECT_EQ(done, reads) << out;
    EXPECT_EQ(out.find("verification failed"), std::string::npos) << out;
  }

  std::string LiveSource() {
    absl::StatusOr<absl::optional<LiveDiskState>> s = attacher_->InspectLiveDisk(kDomain, "sdb");
    EXPECT_TRUE(s.ok() && s->has_value()) << s.status();
    return s.ok() && s->has_value() ? (*s)->source : "";
  }

  TempDir tmp_;
  LibvirtProbe probe_;
  std::unique_ptr<Attacher> attacher_;
  std::unique_ptr<EmbeddedStack> stack_;
  VolumeService* service_ = nullptr;
};

TEST_F(BlockCopyTest, PlainDiskMovesOntoLuks1WhileQemuKeepsWriting) {
  const std::string src = AttachPlain("plain1");
  Write(0xa1, 0, 1 << 20);
  Write(0xa2, kSize - (1 << 20), 1 << 20);
  AttachPlan dst = Destination("enc1", kSize);
  BlockCopyRequest r = Request("plain1", dst, kSize);
  r.bandwidth = 16 << 20;  // ~2 s for 32 MiB: the writes below land mid-copy
  int writes = 0;
  int writes_before_ready = 0;
  r.on_progress = [&](uint64_t copied, uint64_t total) {
    if (writes < 8) {
      Write(0xb0 + writes, (4 + 3 * writes) << 20, 64 << 10);
      if (copied < total) ++writes_before_ready;
      ++writes;
    }
    return true;
  };
  ASSERT_TRUE(CopyAndPivot(*attacher_, r).ok());
  EXPECT_EQ(writes, 8);
  EXPECT_GT(writes_before_ready, 0);
  // Writes after the pivot go to the destination only.
  Write(0xc1, 8 << 10, 4 << 10);

  EXPECT_EQ(LiveSource(), r.destination.source.path);
  const std::string block = probe_.Hmp(kDomain, "info block");
  EXPECT_NE(block.find("\"driver\": \"luks\""), std::string::npos) << block;
  EXPECT_NE(block.find(r.destination.source.path), std::string::npos) << block;
  EXPECT_EQ(block.find(src), std::string::npos) << block;
  const std::string config = probe_.DomainXml(kDomain, /*inactive=*/true);
  EXPECT_NE(config.find(r.destination.source.path), std::string::npos) << config;
  EXPECT_NE(config.find(dst.secret_uuid), std::string::npos) << config;

  std::vector<std::string> reads = {"read -P 0xa1 16k 1008k", "read -P 0xc1 8k 4k",
                                    absl::StrCat("read -P 0xa2 ", kSize - (1 << 20), " 1M")};
  for (int i = 0; i < 8; ++i) {
    reads.push_back(absl::StrFormat("read -P 0x%02x %d 64k", 0xb0 + i, (4 + 3 * i) << 20));
  }
  ExpectAllRead(ReadLuks(r.destination.source.path, dst.passphrase, reads), reads.size());
}

TEST_F(BlockCopyTest, Luks1DiskMovesOntoANewKeyAndTheDomainRestartsOnIt) {
  CreateVolumeRequest c;
  c.id = "old1";
  c.location = VolumeLocation::Path(tmp_.File("old1"));
  c.size_bytes = kSize;
  ASSERT_TRUE(service_->CreateVolume(c).ok());
  AttachTarget t;
  t.domain = kDomain;
  t.config = true;
  ASSERT_TRUE(service_->AttachVolume("old1", t, {}).ok());
  Write(0xd1, 0, 2 << 20);
  SecretBytes old_pass = std::move(service_->PlanAttach("old1", {}).value().passphrase);

  AttachPlan dst = Destination("new1", kSize);
  BlockCopyRequest r = Request("old1", dst, kSize);
  r.on_progress = [&](uint64_t, uint64_t) { return true; };
  ASSERT_TRUE(CopyAndPivot(*attacher_, r).ok());
  Write(0xd2, 3 << 20, 1 << 20);

  const std::string path = r.destination.source.path;
  ExpectAllRead(ReadLuks(path, dst.passphrase, {"read -P 0xd1 0 2M", "read -P 0xd2 3M 1M"}),
                2);
  const std::string out = ReadLuks(path, old_pass, {"read 0 4k"});
  EXPECT_NE(out.find("Invalid password"), std::string::npos) << out;
  // A new start opens what the persistent config names: the new disk.
  EXPECT_EQ(probe_.Restart(kDomain), "");
  EXPECT_EQ(LiveSource(), path);
}

TEST_F(BlockCopyTest, ADestinationOfAnotherSizeIsRefusedBeforeAnyJobStarts) {
  const std::string src = AttachPlain("plain2");
  AttachPlan dst = Destination("enc2", kSize - (1 << 20));
  absl::Status s = CopyAndPivot(*attacher_, Request("plain2", dst, kSize - (1 << 20)));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_NE(s.message().find("exactly the same size"), std::string::npos) << s;
  absl::optional<LiveDiskState> now = attacher_->InspectLiveDisk(kDomain, "sdb").value();
  ASSERT_TRUE(now.has_value());
  EXPECT_FALSE(now->copying);
  EXPECT_EQ(now->source, src);
}

TEST_F(BlockCopyTest, AnotherVolumesDiskIsRefused) {
  AttachPlain("plain3");
  AttachPlan dst = Destination("enc3", kSize);
  EXPECT_THAT(CopyAndPivot(*attacher_, Request("someone-else", dst, kSize)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_FALSE(attacher_->InspectLiveDisk(kDomain, "sdb").value()->copying);
}

TEST_F(BlockCopyTest, CancelledCopyIsAbortedAndTheGuestStaysOnItsSource) {
  const std::string src = AttachPlain("plain4");
  Write(0xe1, 0, 1 << 20);
  AttachPlan dst = Destination("enc4", kSize);
  BlockCopyRequest r = Request("plain4", dst, kSize);
  r.bandwidth = 4 << 20;
  r.on_progress = [&](uint64_t, uint64_t) { return false; };
  EXPECT_THAT(CopyAndPivot(*attacher_, r), StatusIs(absl::StatusCode::kCancelled));
  absl::optional<LiveDiskState> now = attacher_->InspectLiveDisk(kDomain, "sdb").value();
  EXPECT_FALSE(now->copying);
  EXPECT_EQ(now->source, src);
  EXPECT_NE(probe_.DomainXml(kDomain, true).find(src), std::string::npos);
  // The destination's secret is no longer used: it may go.
  EXPECT_TRUE(attacher_->RemoveSecretIfUnused(dst.secret_uuid).value());
}

TEST_F(BlockCopyTest, LibvirtRefusesToDetachADiskWhileItIsCopied) {
  AttachPlain("plain5");
  AttachPlan dst = Destination("enc5", kSize);
  BlockCopyRequest r = Request("plain5", dst, kSize);
  r.bandwidth = 8 << 20;
  absl::Status detach;
  bool secret_removed = true;
  r.on_progress = [&](uint64_t, uint64_t) {
    if (detach.ok()) {
      detach = attacher_->DetachDisk("plain5", "sdb", kDomain);
      // The destination's secret is named only by the <mirror>: in use.
      secret_removed = attacher_->RemoveSecretIfUnused(dst.secret_uuid).value();
    }
    return true;
  };
  ASSERT_TRUE(CopyAndPivot(*attacher_, r).ok());
  EXPECT_FALSE(detach.ok());
  EXPECT_NE(detach.message().find("block"), std::string::npos) << detach;
  EXPECT_FALSE(secret_removed);
  EXPECT_EQ(LiveSource(), r.destination.source.path);
}

}  // namespace
}  // namespace volcrypt
