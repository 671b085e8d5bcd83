// Fuzzes the sealed key files of FileKeyManager (one file per key in its
// directory, which anyone with write access to it can replace):
//   ParseSealedKeyHeader (the clear header), and UnsealKey under a fixed
//   master key with the id the header names, so that inputs derived from the
//   seeds (sealed under that key) reach AES-GCM authentication and success.
// Properties: an unsealed key has the header's bit length; a file that
// unseals re-seals to one that unseals to the same bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "lib/keys/sealed_key_file.h"
#include "tests/fuzz/fuzz_check.h"
#include "volcrypt/secret_bytes.h"

namespace volcrypt {
namespace {

// The seeds in sealed_key_file/seeds were sealed under these 32 bytes
// (0x00, 0x01, ... 0x1f).
SecretBytes MasterKey() {
  SecretBytes key(32);
  for (size_t i = 0; i < key.size(); ++i) key.data()[i] = static_cast<uint8_t>(i);
  return key;
}

void FuzzSealedKeyFile(const std::string& file) {
  static const SecretBytes* const master = new SecretBytes(MasterKey());
  absl::StatusOr<SealedKeyHeader> header = ParseSealedKeyHeader(file);
  if (!header.ok()) return;
  absl::StatusOr<SecretBytes> key = UnsealKey(file, header->id, *master);
  if (!key.ok()) return;
  FUZZ_CHECK(key->size() * 8 == static_cast<size_t>(header->bits));
  absl::StatusOr<std::string> resealed = SealKey(*header, *key, *master);
  FUZZ_CHECK(resealed.ok());
  absl::StatusOr<SecretBytes> again = UnsealKey(*resealed, header->id, *master);
  FUZZ_CHECK(again.ok() && again->Equals(*key));
}

}  // namespace
}  // namespace volcrypt

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  volcrypt::FuzzSealedKeyFile(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
