// Fuzzes the size and encryption-spec strings a user or a Cinder volume type
// hands volcrypt (the CLI's --size, --format, --engine, --kdf, --key-size and
// a volume type's encryption specs):
//   ParseSize, ParseLuksFormat, ParseEncryptionEngine, ParseKdfPolicy,
//   ParseCinderSpec (the input's lines as "key=value" specs), and for what
//   they accept, the size arithmetic of size_rule.h.
// Properties: an accepted spec passes ValidateSpec; an accepted usable size
// round-trips through RawBytesForUsable and UsableBytesForRaw.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "absl/strings/str_split.h"
#include "tests/fuzz/fuzz_check.h"
#include "volcrypt/encryption_spec.h"
#include "volcrypt/size_rule.h"

namespace volcrypt {
namespace {

void FuzzSizeAndSpec(const std::string& text) {
  (void)ParseLuksFormat(text);
  (void)ParseEncryptionEngine(text);
  (void)ParseKdfPolicy(text);

  std::map<std::string, std::string> specs;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    specs[kv.first] = kv.second;
  }
  EncryptionSpec spec;
  absl::StatusOr<EncryptionSpec> parsed = ParseCinderSpec(specs);
  if (parsed.ok()) {
    FUZZ_CHECK(ValidateSpec(*parsed).ok());
    FUZZ_CHECK(VolumeKeyBytes(*parsed) >= KeyManagerKeyBytes(*parsed));
    (void)CipherName(*parsed);
    (void)CipherMode(*parsed);
    spec = *parsed;
  }

  // The first line is the size, as the CLI's --size would hold it.
  const std::string first(text.substr(0, text.find('\n')));
  absl::StatusOr<uint64_t> size = ParseSize(first);
  if (!size.ok()) return;
  const uint64_t offset = PayloadOffsetBytes(spec);
  absl::StatusOr<uint64_t> raw = RawBytesForUsable(offset, *size, EffectiveSectorSize(spec));
  if (raw.ok()) {
    absl::StatusOr<uint64_t> usable = UsableBytesForRaw(offset, *raw, EffectiveSectorSize(spec));
    FUZZ_CHECK(usable.ok() && *usable == *size);
  }
  (void)UsableBytesForRaw(offset, *size, EffectiveSectorSize(spec));
}

}  // namespace
}  // namespace volcrypt

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  volcrypt::FuzzSizeAndSpec(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
