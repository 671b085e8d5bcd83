// --engine auto: the fastest engine the host can attach as asked, and the
// stock Debian 12 stack (libvirt 9.0) keeps hot-plugging what it makes.
#include "volcrypt/engine_policy.h"

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::StatusIsWith;

EngineCapabilities Libvirt(uint64_t version) { return CapabilitiesOfLibvirt(version); }

TEST(EnginePolicyTest, LibvirtNineCannotHotPlugLibrbdAndElevenThreeCan) {
  EXPECT_FALSE(Libvirt(9000000).librbd_live);
  EXPECT_FALSE(Libvirt(11002000).librbd_live);
  EXPECT_TRUE(Libvirt(11003000).librbd_live);
  EXPECT_TRUE(Libvirt(11010000).librbd_live);
  EXPECT_TRUE(Libvirt(9000000).librbd_cold);
}

TEST(EnginePolicyTest, RbdVolumeHotPluggedOnLibvirtNineGetsQemuLuks1) {
  absl::StatusOr<EncryptionSpec> s =
      ChooseEngine(EncryptionSpec{}, true, false, AttachMode::kLive, Libvirt(9000000));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->engine, EncryptionEngine::kQemu);
  EXPECT_EQ(s->format, LuksFormat::kLuks1);
  EXPECT_EQ(EffectiveSectorSize(*s), 512u);
  EXPECT_TRUE(ValidateEngine(*s, true).ok());
}

TEST(EnginePolicyTest, RbdVolumeGetsLibrbdLuks2With4096SectorsWhereItCanAttach) {
  for (auto [mode, caps] : {std::pair{AttachMode::kCold, Libvirt(9000000)},
                            std::pair{AttachMode::kLive, Libvirt(11003000)},
                            std::pair{AttachMode::kCold, Libvirt(11003000)}}) {
    absl::StatusOr<EncryptionSpec> s = ChooseEngine(EncryptionSpec{}, true, false, mode, caps);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->engine, EncryptionEngine::kLibrbd);
    EXPECT_EQ(s->format, LuksFormat::kLuks2);
    EXPECT_EQ(EffectiveSectorSize(*s), 4096u);
    EXPECT_TRUE(ValidateSpec(*s).ok());
    EXPECT_TRUE(ValidateEngine(*s, true).ok());
  }
}

TEST(EnginePolicyTest, APinnedLuks1StaysLuks1OnTheFasterEngine) {
  EncryptionSpec luks1;  // format given as LUKS1
  absl::StatusOr<EncryptionSpec> s =
      ChooseEngine(luks1, true, true, AttachMode::kCold, Libvirt(9000000));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->engine, EncryptionEngine::kLibrbd);
  EXPECT_EQ(s->format, LuksFormat::kLuks1);
}

TEST(EnginePolicyTest, FilesAlwaysGetQemuLuks1AndAPinnedLuks2IsRefused) {
  absl::StatusOr<EncryptionSpec> s =
      ChooseEngine(EncryptionSpec{}, false, false, AttachMode::kCold, Libvirt(11003000));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->engine, EncryptionEngine::kQemu);
  EXPECT_EQ(s->format, LuksFormat::kLuks1);
  EncryptionSpec luks2;
  luks2.format = LuksFormat::kLuks2;
  EXPECT_THAT(ChooseEngine(luks2, false, true, AttachMode::kCold, Libvirt(11003000)),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "rbd volumes only"));
  EXPECT_THAT(ChooseEngine(luks2, true, true, AttachMode::kLive, Libvirt(9000000)),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "hot-plug"));
}

TEST(EnginePolicyTest, CbcCipherStaysOnQemusEngine) {
  EncryptionSpec cbc;
  cbc.cipher = "aes-cbc-essiv:sha256";
  absl::StatusOr<EncryptionSpec> s =
      ChooseEngine(cbc, true, false, AttachMode::kCold, Libvirt(11003000));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->engine, EncryptionEngine::kQemu);
  EXPECT_EQ(s->format, LuksFormat::kLuks1);
}

}  // namespace
}  // namespace volcrypt
