// Finding a client's cephx key the way librados does, so that volcrypt can
// put it in libvirt's 'ceph' secret without the operator copying it by hand.
#include <fcntl.h>
#include <openssl/evp.h>
#include <rados/librados.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/util/quote.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"
#include "volcrypt/rbd_backend.h"

namespace volcrypt {
namespace {

// Keyrings hold a few entities; anything larger is not one.
constexpr size_t kMaxKeyringBytes = 1 << 20;

// Decodes the base64 text of a cephx key (the form keyrings and `ceph auth
// get-key` print) into the bytes libvirt's ceph secret holds.
absl::StatusOr<SecretBytes> DecodeKey(absl::string_view text, const std::string& where) {
  text = absl::StripAsciiWhitespace(text);
  const auto bad = [&] {
    return absl::InvalidArgumentError(where + ": the cephx key is not base64");
  };
  if (text.empty() || text.size() % 4 != 0 || text.size() > 1024) return bad();
  SecretBytes out(text.size() / 4 * 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const uint8_t*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return bad();
  size_t padding = 0;
  while (padding < 2 && text[text.size() - 1 - padding] == '=') ++padding;
  out.Truncate(static_cast<size_t>(n) - padding);
  return out;
}

// The contents of keyring `path`, kept in SecretBytes: it holds other keys.
absl::StatusOr<SecretBytes> ReadKeyring(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoError(errno == ENOENT ? absl::StatusCode::kNotFound
                                      : absl::StatusCode::kPermissionDenied,
                      errno, absl::StrCat("ceph keyring ", QuoteForMessage(path, 256), ": ", strerror(errno)));
  }
  struct stat st = {};
  SecretBytes data;
  absl::Status status;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) > kMaxKeyringBytes) {
    status = absl::InvalidArgumentError(absl::StrCat(
        "ceph keyring ", QuoteForMessage(path, 256), " is not a regular file of at most 1 MiB"));
  } else {
    data = SecretBytes(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t r = read(fd, data.data() + done, data.size() - done);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      done += static_cast<size_t>(r);
    }
    data.Truncate(done);
  }
  close(fd);
  if (!status.ok()) return status;
  return data;
}

// The base64 key of `[entity]` in keyring text (Ceph's INI form).
absl::StatusOr<SecretBytes> KeyOfEntity(const SecretBytes& keyring,
                                        const std::string& entity,
                                        const std::string& path) {
  bool in_entity = false;
  for (absl::string_view line : absl::StrSplit(
           absl::string_view(keyring.char_data(), keyring.size()), '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty() && line.front() == '[') {
      in_entity = line == absl::StrCat("[", entity, "]");
      continue;
    }
    if (!in_entity || !absl::ConsumePrefix(&line, "key")) continue;
    line = absl::StripLeadingAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&line, "=")) continue;
    return DecodeKey(line, "ceph keyring " + QuoteForMessage(path, 256));
  }
  return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                    absl::StrCat("ceph keyring ", QuoteForMessage(path, 256), " has no key for ", entity));
}

// A librados configuration value ("" if unset).
std::string ConfValue(rados_t cluster, const char* option) {
  std::vector<char> buf(4096);
  if (rados_conf_get(cluster, option, buf.data(), buf.size() - 1) != 0) return "";
  return std::string(buf.data());
}

}  // namespace

absl::StatusOr<SecretBytes> ReadCephxKey(const RbdBackendOptions& options) {
  const std::string entity = "client." + options.client_id;
  if (!options.keyring.empty()) {
    VOLCRYPT_ASSIGN_OR_RETURN(SecretBytes text, ReadKeyring(options.keyring));
    return KeyOfEntity(text, entity, options.keyring);
  }
  // librados expands $cluster and $name in these, so ask it, not the file.
  rados_t cluster = nullptr;
  int r = rados_create(&cluster, options.client_id.c_str());
  if (r < 0) return ErrnoError(absl::StatusCode::kInternal, -r, "create rados client");
  r = rados_conf_read_file(cluster, options.ceph_conf.empty() ? nullptr
                                                              : options.ceph_conf.c_str());
  if (r < 0) {
    rados_shutdown(cluster);
    return ErrnoError(absl::StatusCode::kInvalidArgument, -r,
                      absl::StrCat("cannot read ceph config ", QuoteForMessage(options.ceph_conf, 256)));
  }
  const std::string keyrings = ConfValue(cluster, "keyring");
  rados_shutdown(cluster);
  for (absl::string_view path : absl::StrSplit(keyrings, absl::ByAnyChar(",; "),
                                               absl::SkipEmpty())) {
    absl::StatusOr<SecretBytes> text = ReadKeyring(std::string(path));
    if (absl::IsNotFound(text.status())) continue;
    if (!text.ok()) return text.status();
    return KeyOfEntity(*text, entity, std::string(path));
  }
  return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                    absl::StrCat("no keyring of ceph config ", QuoteForMessage(options.ceph_conf, 256),
                                 " exists; give the keyring of ", entity));
}

}  // namespace volcrypt
