// NewBarbicanKeyManager in a build without libcurl (meson option barbican).
#include "lib/util/missing_feature.h"
#include "volcrypt/barbican_key_manager.h"

namespace volcrypt {

absl::StatusOr<std::unique_ptr<KeyManager>> NewBarbicanKeyManager(
    const BarbicanOptions&, Logger*) {
  return MissingFeature("use Barbican", "Barbican (libcurl)", "barbican");
}

}  // namespace volcrypt
