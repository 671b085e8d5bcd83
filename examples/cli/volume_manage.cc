#include "examples/cli/volume_manage.h"

#include <cstdio>
#include <iostream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "lib/keys/secret_file.h"
#include "volcrypt/json.h"
#include "volcrypt/luks.h"
#include "volcrypt/rbd_backend.h"
#include "volcrypt/size_rule.h"

namespace volcrypt_cli {
namespace {

using namespace volcrypt;

constexpr int kFailed = 1;
constexpr int kUsageError = 2;
// A key is 16 to 64 bytes; a file larger than this is not a key.
constexpr size_t kMaxSecretFileBytes = 4096;

// One line whatever the input held: control and non-ASCII bytes escaped,
// each part cut.
std::string OneLine(absl::string_view text, size_t max_bytes) {
  std::string out;
  for (size_t i = 0; i < text.size() && i < max_bytes; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (text.size() > max_bytes) absl::StrAppend(&out, "... (", text.size(), " bytes)");
  return out;
}

int Fail(const std::string& what, const absl::Status& s) {
  std::fprintf(stderr, "volcrypt: %s: %s\n", OneLine(what, 80).c_str(),
               OneLine(s.message(), 200).c_str());
  return kFailed;
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "volcrypt: %s (see 'volcrypt help')\n", message.c_str());
  return kUsageError;
}

// --path, or --pool and --image, by --backend.
std::optional<VolumeLocation> Where(const Args& args) {
  const std::string backend = args.Get("backend").value_or("mapped");
  if (backend == "rbd") {
    auto pool = args.Get("pool");
    auto image = args.Get("image");
    if (!pool || !image) return std::nullopt;
    return VolumeLocation::Rbd(*pool, *image);
  }
  auto path = args.Get("path");
  if (backend != "mapped" || !path) return std::nullopt;
  return VolumeLocation::Path(*path);
}

}  // namespace

int VolumeManage(const Args& args, VolumeService& service) {
  std::optional<VolumeLocation> where = Where(args);
  if (!where) {
    return Usage("volume manage needs --backend mapped --path P or --backend rbd "
                 "--pool P --image I");
  }
  const int kinds = args.Has("key-id") + args.Has("key-file") +
                    args.Has("passphrase-file") + args.Has("unencrypted");
  if (kinds != 1) {
    return Usage("volume manage needs one of --key-id ID, --key-file F, "
                 "--passphrase-file F or --unencrypted");
  }
  ManageVolumeRequest req;
  req.id = args.Get("id").value_or("");
  req.location = *where;
  req.user_id = args.Get("user-id").value_or("");
  req.project_id = args.Get("project-id").value_or("");
  if (auto engine = args.Get("engine")) {
    absl::StatusOr<EncryptionEngine> e = ParseEncryptionEngine(*engine);
    if (!e.ok()) return Usage(std::string(e.status().message()));
    req.engine = *e;
  }
  if (auto size = args.Get("size")) {
    absl::StatusOr<uint64_t> bytes = ParseSize(*size);
    if (!bytes.ok()) return Usage(std::string(bytes.status().message()));
    req.size_bytes = *bytes;
  }
  std::optional<std::string> file;
  if (auto id = args.Get("key-id")) {
    req.key_kind = ManagedKeyKind::kKeyId;
    req.key_id = *id;
  } else if ((file = args.Get("key-file"))) {
    req.key_kind = ManagedKeyKind::kKeyBytes;
  } else if ((file = args.Get("passphrase-file"))) {
    req.key_kind = ManagedKeyKind::kPassphrase;
  } else {
    req.key_kind = ManagedKeyKind::kNone;
  }
  if (file) {
    absl::StatusOr<SecretBytes> secret = ReadSecretFile(*file, kMaxSecretFileBytes);
    if (!secret.ok()) return Fail("read " + *file, secret.status());
    req.secret = std::move(*secret);
  }
  absl::StatusOr<VolumeRecord> v = service.ManageVolume(req);
  if (!v.ok()) return Fail("volume manage " + where->DebugString(), v.status());
  std::cout << VolumeToJson(*v) << std::endl;
  return 0;
}

int VolumeUnmanage(const std::string& id, VolumeService& service) {
  absl::Status s = service.UnmanageVolume(id);
  if (!s.ok()) return Fail("volume unmanage " + id, s);
  return 0;
}

int LuksInspectRbd(const Args& args) {
  std::optional<VolumeLocation> where = Where(args);
  if (!where || where->kind != BackendKind::kRbd) {
    return Usage("luks inspect --backend rbd needs --pool P and --image I");
  }
  RbdBackendOptions ro;
  ro.ceph_conf = args.Get("ceph-conf").value_or("");
  ro.client_id = args.Get("ceph-id").value_or("admin");
  ro.keyring = args.Get("ceph-keyring").value_or("");
  absl::StatusOr<std::unique_ptr<RbdBackend>> rbd = RbdBackend::Connect(ro);
  if (!rbd.ok()) return Fail("open", rbd.status());
  const std::string what = "luks inspect " + where->DebugString();
  absl::StatusOr<VolumeStat> stat = (*rbd)->Stat(*where);
  if (!stat.ok()) return Fail(what, stat.status());
  absl::StatusOr<luks::LuksHeaderImage> header = (*rbd)->ReadLuksHeader(*where);
  if (!header.ok()) return Fail(what, header.status());
  absl::StatusOr<luks::LuksInfo> info = luks::Inspect(header->path());
  if (!info.ok()) return Fail(what, info.status());
  // The copy holds the header region only; sizes are the image's.
  info->device_bytes = stat->raw_bytes;
  info->payload_bytes = 0;
  if (stat->raw_bytes > info->payload_offset_bytes) {
    const uint64_t payload = stat->raw_bytes - info->payload_offset_bytes;
    info->payload_bytes = payload - payload % info->sector_size;
  }
  std::cout << LuksInfoToJson(*info) << std::endl;
  return 0;
}

}  // namespace volcrypt_cli
