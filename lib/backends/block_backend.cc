#include "volcrypt/block_backend.h"

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"

namespace volcrypt {

BlockBackend::~BlockBackend() = default;

absl::string_view BackendKindName(BackendKind kind) {
  return kind == BackendKind::kMapped ? "mapped" : "rbd";
}

absl::StatusOr<BackendKind> ParseBackendKind(absl::string_view name) {
  if (name == "mapped") return BackendKind::kMapped;
  if (name == "rbd") return BackendKind::kRbd;
  return absl::InvalidArgumentError(
      absl::StrCat("backend '", name, "' is not known (use mapped or rbd)"));
}

VolumeLocation VolumeLocation::Path(std::string path) {
  VolumeLocation where;
  where.kind = BackendKind::kMapped;
  where.path = std::move(path);
  return where;
}

VolumeLocation VolumeLocation::Rbd(std::string pool, std::string image) {
  VolumeLocation where;
  where.kind = BackendKind::kRbd;
  where.pool = std::move(pool);
  where.image = std::move(image);
  return where;
}

std::string VolumeLocation::DebugString() const {
  if (kind == BackendKind::kMapped) return path;
  return absl::StrCat("rbd:", pool, "/", image);
}

absl::StatusOr<FirstUseResult> FormatOnFirstUse(BlockBackend& backend,
                                                const VolumeLocation& where,
                                                const EncryptionSpec& spec,
                                                const SecretBytes& passphrase) {
  VOLCRYPT_ASSIGN_OR_RETURN(luks::ContentProbe probe, backend.Probe(where));
  switch (probe.kind) {
    case luks::ContentKind::kLuks:
      return FirstUseResult::kAlreadyLuks;
    case luks::ContentKind::kOtherSignature:
      return ErrnoError(
          absl::StatusCode::kFailedPrecondition, EEXIST,
          absl::StrCat(where.DebugString(), ": recorded as encrypted but holds "
                       "a '", probe.type, "' signature, not LUKS; refusing to "
                       "format over its data"));
    case luks::ContentKind::kNoSignature:
      break;
  }
  VOLCRYPT_ASSIGN_OR_RETURN(luks::LuksHeaderImage image,
                            luks::BuildHeaderImage(spec, passphrase));
  VOLCRYPT_RETURN_IF_ERROR(backend.WriteLuksHeader(where, image,
                                                   EffectiveSectorSize(spec),
                                                   /*force=*/false));
  return FirstUseResult::kFormatted;
}

}  // namespace volcrypt
