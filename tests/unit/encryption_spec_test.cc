#include "volcrypt/encryption_spec.h"

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::StatusIsWith;

TEST(EncryptionSpecTest, DefaultsAreLuks1Aes256XtsMachineKey) {
  EncryptionSpec spec;
  EXPECT_TRUE(ValidateSpec(spec).ok());
  EXPECT_EQ(CipherName(spec), "aes");
  EXPECT_EQ(CipherMode(spec), "xts-plain64");
  EXPECT_EQ(VolumeKeyBytes(spec), 64u);  // AES-256-XTS: two 256-bit keys
  EXPECT_EQ(KeyManagerKeyBytes(spec), 32u);
  EXPECT_EQ(spec.kdf, KdfPolicy::kMachineKey);
}

TEST(EncryptionSpecTest, CbcKeyIsOneAesKey) {
  EncryptionSpec spec;
  spec.cipher = "aes-cbc-essiv:sha256";
  spec.key_bits = 192;
  ASSERT_TRUE(ValidateSpec(spec).ok());
  EXPECT_EQ(VolumeKeyBytes(spec), 24u);
  EXPECT_EQ(CipherMode(spec), "cbc-essiv:sha256");
}

TEST(EncryptionSpecTest, RejectsUnsupportedCipherNamingIt) {
  EncryptionSpec spec;
  spec.cipher = "serpent-xts-plain64";
  EXPECT_THAT(ValidateSpec(spec), StatusIsWith(absl::StatusCode::kInvalidArgument,
                                               "serpent-xts-plain64"));
}

TEST(EncryptionSpecTest, RejectsUnsupportedKeySize) {
  EncryptionSpec spec;
  spec.key_bits = 192;  // not with XTS
  EXPECT_THAT(ValidateSpec(spec),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "192"));
  spec.key_bits = 384;
  EXPECT_THAT(ValidateSpec(spec), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(EncryptionSpecTest, SectorSizeRules) {
  EncryptionSpec spec;
  spec.sector_size = 4096;
  EXPECT_THAT(ValidateSpec(spec),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "LUKS1"));
  spec.format = LuksFormat::kLuks2;
  EXPECT_TRUE(ValidateSpec(spec).ok());
  spec.sector_size = 3000;
  EXPECT_THAT(ValidateSpec(spec), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(EncryptionSpecTest, DefaultSectorSizeIs4096ForLuks2And512ForLuks1) {
  EncryptionSpec spec;
  EXPECT_EQ(spec.sector_size, 0u);
  EXPECT_EQ(EffectiveSectorSize(spec), 512u);
  EXPECT_TRUE(ValidateSpec(spec).ok());
  spec.format = LuksFormat::kLuks2;
  EXPECT_EQ(EffectiveSectorSize(spec), 4096u);
  EXPECT_TRUE(ValidateSpec(spec).ok());
  spec.sector_size = 512;  // asked for: kept
  EXPECT_EQ(EffectiveSectorSize(spec), 512u);
}

TEST(EncryptionSpecTest, ParsesCinderVolumeTypeSpecs) {
  absl::StatusOr<EncryptionSpec> spec = ParseCinderSpec(
      {{"provider", "luks"},
       {"cipher", "aes-xts-plain64"},
       {"key_size", "256"},
       {"control_location", "front-end"}});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->format, LuksFormat::kLuks1);
  EXPECT_EQ(spec->key_bits, 256);
}

TEST(EncryptionSpecTest, ParsesLegacyProviderClassPathsAndLuks2) {
  EXPECT_EQ(ParseCinderSpec({{"provider",
                              "nova.volume.encryptors.luks.LuksEncryptor"}})
                ->format,
            LuksFormat::kLuks1);
  EXPECT_EQ(ParseCinderSpec({{"provider", "luks2"}})->format,
            LuksFormat::kLuks2);
}

TEST(EncryptionSpecTest, KeySize512WithXtsIsCryptsetupsMeaning) {
  absl::StatusOr<EncryptionSpec> spec =
      ParseCinderSpec({{"key_size", "512"}, {"cipher", "aes-xts-plain64"}});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->key_bits, 256);
  EXPECT_EQ(VolumeKeyBytes(*spec), 64u);
}

TEST(EncryptionSpecTest, CinderSpecErrorsAreSpecific) {
  EXPECT_THAT(ParseCinderSpec({{"provider", "plain"}}),
              StatusIs(absl::StatusCode::kUnimplemented));
  EXPECT_THAT(ParseCinderSpec({{"control_location", "back-end"}}),
              StatusIs(absl::StatusCode::kUnimplemented));
  EXPECT_THAT(ParseCinderSpec({{"provider", "bitlocker"}}),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "bitlocker"));
  EXPECT_THAT(ParseCinderSpec({{"key_size", "lots"}}),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "lots"));
  EXPECT_THAT(ParseCinderSpec({{"colour", "blue"}}),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "colour"));
  EXPECT_THAT(ParseCinderSpec({{"cipher", "aes-xts-plain64"}, {"key_size", "384"}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(EncryptionSpecTest, NamesRoundTrip) {
  EXPECT_EQ(*ParseLuksFormat(LuksFormatName(LuksFormat::kLuks2)),
            LuksFormat::kLuks2);
  EXPECT_EQ(*ParseLuksFormat("luks"), LuksFormat::kLuks1);
  EXPECT_EQ(*ParseKdfPolicy(KdfPolicyName(KdfPolicy::kPassphrase)),
            KdfPolicy::kPassphrase);
  EXPECT_THAT(ParseLuksFormat("luks3"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseKdfPolicy("fast"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace volcrypt
