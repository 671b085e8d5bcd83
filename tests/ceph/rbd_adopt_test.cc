// Bringing in RBD images other tools made, on a real Ceph cluster with keys
// in a real Barbican: cinder's path (qemu-img create -f luks, rbd import;
// QEMU decrypts) with the key cinder stored, and `rbd encryption format`
// LUKS1 and LUKS2 images (ceph-csi, CloudStack; librbd decrypts). Data
// written before the adoption reads back with what volcrypt's attach plan
// gives; extend gives exactly the asked size over the real offset;
// unmanage leaves image and key; `luks inspect --backend rbd` reads the
// header through librbd.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/ceph/ceph_testbed.h"
#include "tests/support/script_testbed.h"
#include "tests/support/test_support.h"
#include "volcrypt/barbican_key_manager.h"
#include "volcrypt/luks.h"
#include "volcrypt/mapped_backend.h"
#include "volcrypt/rbd_backend.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::CephTestbed;
using ::volcrypt::testing::CommandResult;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::ScriptTestbed;
using ::volcrypt::testing::StatusIsWith;
using ::volcrypt::testing::TempDir;

::testing::Environment* const kCeph = ::testing::AddGlobalTestEnvironment(new CephTestbed);
ScriptTestbed* const kBarbican = static_cast<ScriptTestbed*>(
    ::testing::AddGlobalTestEnvironment(new ScriptTestbed("barbican.sh")));

constexpr char kPassphrase[] = "a ceph-csi style passphrase, 32+ bytes";

SecretBytes Bytes(const std::string& s) { return SecretBytes::CopyOf(s.data(), s.size()); }

std::string Cli() {
  const char* path = std::getenv("VOLCRYPT_CLI");
  return path ? path : "volcrypt";
}

class RbdAdoptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (CephTestbed::conf().empty()) GTEST_SKIP() << CephTestbed::skip_reason();
    VOLCRYPT_REQUIRE_TESTBED(kBarbican);
    RbdBackendOptions ro;
    ro.ceph_conf = CephTestbed::conf();
    ro.timeout_seconds = 5;
    rbd_ = std::move(RbdBackend::Connect(ro).value());
    BarbicanOptions bo;
    bo.endpoint = kBarbican->address();
    bo.project_id = "cloud";
    bo.timeout_seconds = 5;
    keys_ = std::move(NewBarbicanKeyManager(bo, NullLogger()).value());
    store_ = std::move(OpenSqliteVolumeStore(tmp_.File("volumes.db")).value());
    mapped_ = NewMappedBackend();
    VolumeServiceOptions o;
    o.keys = keys_.get();
    o.store = store_.get();
    o.mapped = mapped_.get();
    o.rbd = rbd_.get();
    o.host = "host-a";
    o.logger = NullLogger();
    service_ = std::move(VolumeService::Create(o).value());
  }

  CommandResult Rbd(std::vector<std::string> args, const SecretBytes* secret = nullptr) {
    args.insert(args.begin(), {"rbd", "-c", CephTestbed::conf()});
    return RunCommand(args, secret);
  }

  // qemu-io over rbd: QEMU's LUKS driver (kQemu) or librbd's encryption.
  CommandResult QemuIo(const std::string& image, EncryptionEngine engine, LuksFormat format,
                       const SecretBytes& pass, const std::string& cmd) {
    const std::string& conf = CephTestbed::conf();
    std::string opts;
    if (engine == EncryptionEngine::kQemu) {
      opts = "driver=luks,key-secret=s0,file.driver=rbd,file.pool=rbd,file.image=" + image +
             ",file.conf=" + conf;
    } else {
      opts = "driver=rbd,pool=rbd,image=" + image + ",conf=" + conf + ",encrypt.format=" +
             (format == LuksFormat::kLuks1 ? "luks" : "luks2") + ",encrypt.key-secret=s0";
    }
    return RunCommand({"qemu-io", "--object", "secret,id=s0,file=/dev/fd/3", "--image-opts",
                       opts, "-c", cmd},
                      &pass);
  }

  // The size the engine gives the guest (qemu-img info over the same opts).
  uint64_t GuestSize(const std::string& image, EncryptionEngine engine, LuksFormat format,
                     const SecretBytes& pass) {
    const std::string& conf = CephTestbed::conf();
    std::string opts =
        engine == EncryptionEngine::kQemu
            ? "driver=luks,key-secret=s0,file.driver=rbd,file.pool=rbd,file.image=" + image +
                  ",file.conf=" + conf
            : "driver=rbd,pool=rbd,image=" + image + ",conf=" + conf + ",encrypt.format=" +
                  (format == LuksFormat::kLuks1 ? "luks" : "luks2") + ",encrypt.key-secret=s0";
    CommandResult info = RunCommand({"qemu-img", "info", "--output=json", "--object",
                                     "secret,id=s0,file=/dev/fd/3", "--image-opts", opts},
                                    &pass);
    EXPECT_EQ(info.exit_code, 0) << info.err;
    const size_t at = info.out.find("\"virtual-size\": ");
    return at == std::string::npos ? 0 : std::stoull(info.out.substr(at + 16));
  }

  static bool PatternOk(const CommandResult& r) {
    return r.exit_code == 0 && r.out.find("Pattern verification failed") == std::string::npos;
  }

  // Manage, verify, read back data written before, extend to `grown`,
  // check the size the engine gives and the data, unmanage: image and key
  // stay.
  void Adopt(const ManageVolumeRequest& req, LuksFormat format, uint64_t grown) {
    const std::string& image = req.location.image;
    absl::StatusOr<VolumeRecord> v = service_->ManageVolume(req);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->encryption.format, format);
    // (Each unlock of a header librbd formatted costs its ~2 s benchmarked
    // PBKDF: manage's own check stands for verify here.)
    absl::StatusOr<AttachPlan> plan = service_->PlanAttach(v->id, {});
    ASSERT_TRUE(plan.ok()) << plan.status();
    CommandResult r = QemuIo(image, req.engine, format, plan->passphrase, "read -P 0x6b 0 1M");
    EXPECT_TRUE(PatternOk(r)) << r.out << r.err;
    ASSERT_TRUE(service_->ExtendVolume(v->id, grown).ok());
    const std::string end = std::to_string(grown - (1 << 20));
    r = QemuIo(image, req.engine, format, plan->passphrase, "write -P 0x6b " + end + " 1M");
    EXPECT_TRUE(PatternOk(r)) << r.out << r.err;
    EXPECT_EQ(GuestSize(image, req.engine, format, plan->passphrase), grown);
    const std::string key_id = store_->GetVolume(v->id)->encryption_key_id;
    ASSERT_TRUE(service_->UnmanageVolume(v->id).ok());
    EXPECT_TRUE(keys_->GetKey(key_id).ok());
    EXPECT_TRUE(rbd_->Stat(req.location).ok());
    EXPECT_EQ(store_->ListVolumes({})->size(), 0u);
  }

  TempDir tmp_;
  std::unique_ptr<RbdBackend> rbd_;
  std::unique_ptr<KeyManager> keys_;
  std::unique_ptr<VolumeStore> store_;
  std::unique_ptr<BlockBackend> mapped_;
  std::unique_ptr<VolumeService> service_;
};

TEST_F(RbdAdoptTest, ACinderPathImageWithItsKeyInBarbican) {
  KeyRequest kr;
  kr.bits = 256;
  kr.name = "cinder-volume-key";
  NewKey key = std::move(keys_->CreateKey(kr).value());
  const SecretBytes pass = HexPassphrase(key.bytes);
  const std::string file = tmp_.File("cinder.luks");
  CommandResult made;
  for (int attempt = 0; attempt < 8 && made.exit_code != 0; ++attempt) {
    made = RunCommand({"qemu-img", "create", "-f", "luks", "--object",
                       "secret,id=s0,file=/dev/fd/3", "-o", "key-secret=s0,iter-time=50",
                       file, "32M"},
                      &pass);
  }
  ASSERT_EQ(made.exit_code, 0) << made.err;
  ASSERT_EQ(Rbd({"import", file, "rbd/adopt-cinder"}).exit_code, 0);
  ASSERT_TRUE(PatternOk(QemuIo("adopt-cinder", EncryptionEngine::kQemu, LuksFormat::kLuks1,
                               pass, "write -P 0x6b 0 1M")));
  // luks inspect --backend rbd: the header through librbd.
  CommandResult inspect = RunCommand({Cli(), "--ceph-conf", CephTestbed::conf(), "luks",
                                      "inspect", "--backend", "rbd", "--pool", "rbd",
                                      "--image", "adopt-cinder"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  nlohmann::json info = nlohmann::json::parse(inspect.out);
  EXPECT_EQ(info["version"], 1);
  EXPECT_EQ(info["payload_bytes"], 32u << 20);
  ManageVolumeRequest req;
  req.id = "cinder1";
  req.location = VolumeLocation::Rbd("rbd", "adopt-cinder");
  req.key_id = key.id;
  req.size_bytes = 32u << 20;
  Adopt(req, LuksFormat::kLuks1, 48u << 20);
}

class RbdEncryptionFormatTest : public RbdAdoptTest,
                                public ::testing::WithParamInterface<LuksFormat> {};

TEST_P(RbdEncryptionFormatTest, AnImageLibrbdFormattedOpensWithTheLibrbdEngine) {
  const LuksFormat format = GetParam();
  const std::string image = std::string("adopt-rbd-") + std::string(LuksFormatName(format));
  ASSERT_EQ(Rbd({"create", "--size", "64M", "rbd/" + image}).exit_code, 0);
  // LUKS1 with a random key's hex (the key kept as bytes); LUKS2 with a
  // passphrase a person chose.
  const SecretBytes key = SecretBytes::Random(32).value();
  const SecretBytes pass = format == LuksFormat::kLuks1 ? HexPassphrase(key) : Bytes(kPassphrase);
  CommandResult f = Rbd({"encryption", "format", "rbd/" + image,
                         format == LuksFormat::kLuks1 ? "luks1" : "luks2", "/dev/fd/3"},
                        &pass);
  ASSERT_EQ(f.exit_code, 0) << f.err;
  ASSERT_TRUE(PatternOk(QemuIo(image, EncryptionEngine::kLibrbd, format, pass,
                               "write -P 0x6b 0 1M")));
  ManageVolumeRequest req;
  req.id = image;
  req.location = VolumeLocation::Rbd("rbd", image);
  req.engine = EncryptionEngine::kQemu;
  if (format == LuksFormat::kLuks2) {
    req.key_kind = ManagedKeyKind::kPassphrase;
    req.secret = Bytes(kPassphrase);
    // QEMU's own driver cannot open LUKS2: refused with the reason, nothing
    // recorded or stored.
    EXPECT_THAT(service_->ManageVolume(req),
                StatusIsWith(absl::StatusCode::kInvalidArgument, "cannot be attached"));
    EXPECT_EQ(store_->ListVolumes({})->size(), 0u);
    EXPECT_TRUE(keys_->FindKeysByName(KeyNameForVolume(image))->empty());
  } else {
    req.key_kind = ManagedKeyKind::kKeyBytes;
    req.secret = key.Clone();
  }
  req.engine = EncryptionEngine::kLibrbd;
  Adopt(req, format, 96u << 20);
}

INSTANTIATE_TEST_SUITE_P(BothFormats, RbdEncryptionFormatTest,
                         ::testing::Values(LuksFormat::kLuks1, LuksFormat::kLuks2),
                         ::volcrypt::testing::LuksFormatParamName);

}  // namespace
}  // namespace volcrypt
