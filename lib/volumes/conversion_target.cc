// Steps 0 to 5 of a conversion (conversion.h): the checks, the row, the new
// key and the destination with its header.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/numbers.h"
#include "lib/luks/volume_key.h"
#include "lib/util/host_name.h"
#include "lib/util/status_macros.h"
#include "lib/volumes/attach_flows.h"
#include "lib/volumes/conversion.h"
#include "lib/volumes/conversion_support.h"
#include "lib/volumes/key_steps.h"
#include "lib/volumes/ownership.h"
#include "volcrypt/errors.h"
#include "volcrypt/luks.h"
#include "volcrypt/size_rule.h"

namespace volcrypt {
namespace flows {
namespace {

bool Same(const VolumeLocation& a, const VolumeLocation& b) {
  if (a.kind != b.kind) return false;
  return a.kind == BackendKind::kMapped ? a.path == b.path
                                        : a.pool == b.pool && a.image == b.image;
}

// Everything about the target, before anything is written.
absl::Status CheckTarget(const FlowContext& ctx, const VolumeRecord& source,
                         const ConvertVolumeRequest& req) {
  // 0 means the format's default (4096 for LUKS2, 512 for LUKS1).
  EncryptionSpec spec = req.encryption;
  spec.sector_size = EffectiveSectorSize(spec);
  VOLCRYPT_RETURN_IF_ERROR(ValidateSpec(spec));
  VOLCRYPT_RETURN_IF_ERROR(ValidateEngine(spec, req.target.kind == BackendKind::kRbd));
  if (spec.cipher != "aes-xts-plain64") {
    return ErrnoError(absl::StatusCode::kUnimplemented, ENOTSUP,
                      "a conversion writes aes-xts-plain64 only");
  }
  if (Same(req.target, source.location)) {
    return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                      "the target is the volume's own location");
  }
  VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend * backend, ctx.BackendFor(req.target));
  absl::StatusOr<VolumeStat> stat = backend->Stat(req.target);
  if (stat.ok()) {
    return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST,
                      absl::StrCat(req.target.DebugString(), " already exists"));
  }
  if (!absl::IsNotFound(stat.status())) return stat.status();
  VOLCRYPT_RETURN_IF_ERROR(CheckNoRecordAt(ctx, req.target));
  absl::Status fits =
      RawBytesForUsable(PayloadOffsetBytes(spec), source.size_bytes, spec.sector_size).status();
  if (!fits.ok()) {
    return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                      absl::StrCat("volume ", source.id, " of ", source.size_bytes,
                                   " bytes cannot become a volume with ", spec.sector_size,
                                   "-byte sectors: ", fits.message()));
  }
  return absl::OkStatus();
}

absl::Status CheckKind(const VolumeRecord& source, ConversionKind kind) {
  if (kind == ConversionKind::kEncrypt && source.encrypted) {
    return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                      absl::StrCat("volume ", source.id,
                                   " is already encrypted; use reencrypt"));
  }
  if (kind == ConversionKind::kReencrypt && !source.encrypted) {
    return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                      absl::StrCat("volume ", source.id, " is plain; use encrypt"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string ConversionOwner() {
  absl::StatusOr<SecretBytes> nonce = SecretBytes::Random(6);
  std::string hex = nonce.ok() ? absl::BytesToHexString(absl::string_view(
                                     nonce->char_data(), nonce->size()))
                               : "0";
  return absl::StrCat(SystemHostName(), "/", getpid(), "/", hex);
}

bool ConversionOwnerIsGone(const std::string& owner) {
  std::vector<std::string> parts = absl::StrSplit(owner, '/');
  int pid = 0;
  if (parts.size() != 3 || parts[0] != SystemHostName() ||
      !absl::SimpleAtoi(parts[1], &pid) || pid <= 0) {
    return false;
  }
  return kill(pid, 0) != 0 && errno == ESRCH;
}

absl::StatusOr<ConversionRecord> BeginConversion(const FlowContext& ctx,
                                                 const ConvertVolumeRequest& req,
                                                 VolumeStatus expected, bool online) {
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord source, ctx.store->GetVolume(req.id));
  if (source.status != expected) {
    return WrongStatus(source, absl::StrCat("only an ", VolumeStatusName(expected),
                                            " volume can be converted"));
  }
  VOLCRYPT_RETURN_IF_ERROR(CheckKind(source, req.kind));
  // Snapshots live with the source image and keep its key: they would not
  // follow the data, and the source could not be deleted.
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<SnapshotRecord> snaps,
                            ctx.store->ListSnapshots(source.id));
  if (!snaps.empty()) {
    return ErrnoError(absl::StatusCode::kFailedPrecondition, ENOTEMPTY,
                      absl::StrCat("volume ", source.id, " has ", snaps.size(),
                                   " snapshot(s); delete them before converting it"));
  }
  if (!online) VOLCRYPT_RETURN_IF_ERROR(CheckNoDomainUses(ctx, source));
  VOLCRYPT_RETURN_IF_ERROR(CheckTarget(ctx, source, req));
  VOLCRYPT_RETURN_IF_ERROR(LoadPayloadSide(ctx, source).status());
  // A plain source gets the proof its deletion will check.
  if (!source.encrypted && source.location_proof.empty()) {
    VOLCRYPT_ASSIGN_OR_RETURN(source.location_proof, PlainFingerprint(ctx, source.location));
    VOLCRYPT_RETURN_IF_ERROR(ctx.store->UpdateVolume(source, expected));
  }
  ConversionRecord row;
  row.volume_id = source.id;
  row.online = online;
  row.keep_source = req.keep_source;
  row.other_location = req.target;
  row.other_encrypted = true;
  row.other_encryption = req.encryption;
  row.other_encryption.sector_size = EffectiveSectorSize(req.encryption);
  row.other_key_format = KeyFormat::kHex;
  row.owner = ConversionOwner();
  VOLCRYPT_RETURN_IF_ERROR(ctx.store->BeginConversion(row, expected));
  return ctx.store->GetConversion(source.id);
}

absl::StatusOr<ConversionDestination> CreateConversionDestination(const FlowContext& ctx,
                                                                  ConversionRecord& row) {
  const std::string what = "convert volume " + row.volume_id;
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord source, ctx.store->GetVolume(row.volume_id));
  VolumeRecord dest = OtherSide(row);
  const EncryptionSpec& spec = dest.encryption;
  VOLCRYPT_ASSIGN_OR_RETURN(
      const uint64_t raw,
      RawBytesForUsable(PayloadOffsetBytes(spec), source.size_bytes, spec.sector_size));
  VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend * backend, ctx.BackendFor(dest.location));
  // 2. The new key, named for the volume (found by name after a kill).
  CreateProgress progress;
  dest.encryption_key_id.clear();
  absl::StatusOr<SecretBytes> key = CreateVolumeKey(ctx, dest, progress);
  if (!key.ok()) return Annotate(key.status(), what);
  // 3. Recorded in the row.
  row.other_key_id = dest.encryption_key_id;
  VOLCRYPT_RETURN_IF_ERROR(ctx.store->UpdateConversion(row));
  ConversionDestination out;
  out.passphrase = HexPassphrase(*key);
  VOLCRYPT_ASSIGN_OR_RETURN(luks::LuksHeaderImage header,
                            luks::BuildHeaderImage(spec, out.passphrase));
  // 4. The destination and its header.
  VOLCRYPT_RETURN_IF_ERROR(Annotate(backend->Create(dest.location, raw), what));
  VOLCRYPT_RETURN_IF_ERROR(Annotate(
      backend->WriteLuksHeader(dest.location, header, spec.sector_size, /*force=*/false),
      what));
  // 5. Its proof.
  VOLCRYPT_ASSIGN_OR_RETURN(row.other_location_proof, ProveLocation(ctx, dest));
  VOLCRYPT_RETURN_IF_ERROR(ctx.store->UpdateConversion(row));
  VOLCRYPT_ASSIGN_OR_RETURN(out.volume_key,
                            luks::ExtractVolumeKey(header.path(), out.passphrase));
  out.payload_offset = header.size();
  out.raw_bytes = raw;
  return out;
}

absl::StatusOr<ConversionDestination> OpenConversionDestination(
    const FlowContext& ctx, const ConversionRecord& row) {
  VolumeRecord dest = OtherSide(row);
  if (row.other_key_id.empty() || row.other_location_proof.empty()) {
    return ErrnoError(absl::StatusCode::kFailedPrecondition, EAGAIN,
                      absl::StrCat("volume ", row.volume_id,
                                   ": its conversion's destination was never finished"));
  }
  VOLCRYPT_ASSIGN_OR_RETURN(Ownership owned, CheckOwnership(ctx, dest));
  if (owned != Ownership::kOwned) {
    return ErrnoError(absl::StatusCode::kFailedPrecondition, EEXIST,
                      absl::StrCat("volume ", row.volume_id, ": ",
                                   dest.location.DebugString(),
                                   " no longer holds the conversion's destination"));
  }
  VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend * backend, ctx.BackendFor(dest.location));
  VOLCRYPT_ASSIGN_OR_RETURN(luks::LuksHeaderImage header,
                            backend->ReadLuksHeader(dest.location));
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeStat stat, backend->Stat(dest.location));
  ConversionDestination out;
  VOLCRYPT_ASSIGN_OR_RETURN(out.passphrase, PassphraseOf(ctx, dest));
  VOLCRYPT_ASSIGN_OR_RETURN(out.volume_key,
                            luks::ExtractVolumeKey(header.path(), out.passphrase));
  out.payload_offset = header.size();
  out.raw_bytes = stat.raw_bytes;
  return out;
}

}  // namespace flows
}  // namespace volcrypt
