#include "volcrypt/fixed_key_manager.h"

#include <atomic>

#include "absl/strings/str_cat.h"
#include "lib/keys/secret_file.h"
#include "lib/util/status_macros.h"

namespace volcrypt {
namespace {

absl::Status NoSuchKey(const std::string& id) {
  return absl::NotFoundError(absl::StrCat(
      "key ", id, " not found: the fixed key manager has only ", kFixedKeyId));
}

class FixedKeyManager final : public KeyManager {
 public:
  FixedKeyManager(SecretBytes key, Logger* logger)
      : key_(std::move(key)), logger_(logger ? logger : DefaultLogger()) {
    // Once per process, as castellan does.
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true)) {
      logger_->Log(LogLevel::kWarning,
                   "This key manager is insecure and is not recommended for "
                   "production deployments");
    }
  }

  absl::StatusOr<NewKey> CreateKey(const KeyRequest&) override {
    return NewKey{kFixedKeyId, key_.Clone()};
  }

  absl::StatusOr<std::string> StoreKey(const SecretBytes& key,
                                       const KeyRequest&) override {
    if (!key.Equals(key_)) {
      return absl::UnimplementedError(
          "the fixed key manager cannot store arbitrary keys");
    }
    return std::string(kFixedKeyId);
  }

  absl::StatusOr<SecretBytes> GetKey(const std::string& id) override {
    if (id != kFixedKeyId) return NoSuchKey(id);
    return key_.Clone();
  }

  absl::Status DeleteKey(const std::string& id) override {
    if (id != kFixedKeyId) return NoSuchKey(id);
    logger_->Log(LogLevel::kWarning, absl::StrCat("Not deleting key ", id));
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> FindKeysByName(
      const std::string&) override {
    return std::vector<std::string>();
  }

  bool IsSharedKey(const std::string& id) const override {
    return id == kFixedKeyId;
  }

 private:
  const SecretBytes key_;
  Logger* const logger_;
};

}  // namespace

std::unique_ptr<KeyManager> NewFixedKeyManager(SecretBytes fixed_key,
                                               Logger* logger) {
  return std::make_unique<FixedKeyManager>(std::move(fixed_key), logger);
}

absl::StatusOr<SecretBytes> ReadFixedKeyFile(const std::string& path) {
  VOLCRYPT_ASSIGN_OR_RETURN(SecretBytes text, ReadSecretFile(path, 4096));
  absl::StatusOr<SecretBytes> key =
      SecretFromHex(absl::string_view(text.char_data(), text.size()));
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a hex fixed key: ", key.status().message()));
  }
  return key;
}

}  // namespace volcrypt
