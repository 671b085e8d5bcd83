// The on-disk form of one FileKeyManager key: a clear, authenticated header
// and the key sealed with AES-256-GCM.
//
//   VOLCRYPT-KEY-1\n
//   id=<uuid>\n name=<name>\n algorithm=<alg>\n bits=<n>\n \n
//   <12-byte nonce><sealed key><16-byte tag>
//
// Everything before the nonce is the GCM additional data, so the id, name
// and size cannot be changed without the master key.
#ifndef VOLCRYPT_LIB_KEYS_SEALED_KEY_FILE_H_
#define VOLCRYPT_LIB_KEYS_SEALED_KEY_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "volcrypt/key_manager.h"
#include "volcrypt/secret_bytes.h"

namespace volcrypt {

struct SealedKeyHeader {
  std::string id;
  std::string name;
  std::string algorithm;
  int bits = 0;
};

// Returns the file contents sealing `key` under `master_key`.
absl::StatusOr<std::string> SealKey(const SealedKeyHeader& header,
                                    const SecretBytes& key,
                                    const SecretBytes& master_key);

// Parses the clear header only (no master key needed). DataLoss if `file` is
// not a volcrypt key file or is truncated.
absl::StatusOr<SealedKeyHeader> ParseSealedKeyHeader(const std::string& file);

// Returns the key sealed in `file`, checking that its header names
// `expected_id`. DataLoss if authentication fails (corrupted file, wrong
// master key) or the id differs.
absl::StatusOr<SecretBytes> UnsealKey(const std::string& file,
                                      const std::string& expected_id,
                                      const SecretBytes& master_key);

// Returns OK if `name` can be a key name (1-255 bytes, no control characters),
// else InvalidArgument.
absl::Status ValidateKeyName(const std::string& name);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_KEYS_SEALED_KEY_FILE_H_
