#include "examples/cli/ceph_secret.h"

#include <cstdio>
#include <iostream>
#include <memory>

#include "lib/util/quote.h"
#include "volcrypt/attacher.h"
#include "volcrypt/rbd_backend.h"

namespace volcrypt_cli {
namespace {

using namespace volcrypt;

constexpr int kFailed = 1;
constexpr int kUsageError = 2;

int Fail(const std::string& what, const absl::Status& s) {
  std::fprintf(stderr, "volcrypt: %s: %s\n", what.c_str(),
               QuoteForMessage(s.message(), 300).c_str());
  return kFailed;
}

}  // namespace

int CephSecretCommand(const Args& args, const std::vector<std::string>& words) {
  const bool define = words.size() == 2 && words[1] == "define";
  const bool check = words.size() == 2 && words[1] == "check";
  const std::string uuid = args.Get("libvirt-ceph-secret").value_or("");
  if (!define && !check) {
    std::fprintf(stderr, "volcrypt: ceph-secret define|check (see 'volcrypt help')\n");
    return kUsageError;
  }
  if (check && uuid.empty()) {
    std::fprintf(stderr, "volcrypt: ceph-secret check needs --libvirt-ceph-secret UUID\n");
    return kUsageError;
  }
  const std::string what = "ceph-secret " + words[1];
  RbdBackendOptions ro;
  ro.ceph_conf = args.Get("ceph-conf").value_or("");
  ro.client_id = args.Get("ceph-id").value_or("admin");
  ro.keyring = args.Get("ceph-keyring").value_or("");
  absl::StatusOr<SecretBytes> key = ReadCephxKey(ro);
  // `check` without a readable keyring still checks the rest.
  if (!key.ok() && (define || !absl::IsNotFound(key.status()))) return Fail(what, key.status());
  const std::string uri = args.Get("connect").value_or("qemu:///system");
  absl::StatusOr<std::unique_ptr<Attacher>> libvirt = Attacher::Connect(uri);
  if (!libvirt.ok()) return Fail(what, libvirt.status());
  if (check) {
    absl::Status s = (*libvirt)->CheckCephSecret(uuid, key.ok() ? &*key : nullptr);
    if (!s.ok()) return Fail(what, s);
    std::cout << "{\"uuid\": \"" << uuid << "\", \"ok\": true}" << std::endl;
    return 0;
  }
  absl::StatusOr<std::string> defined = (*libvirt)->DefineCephSecret(uuid, ro.client_id, *key);
  if (!defined.ok()) return Fail(what, defined.status());
  std::cout << "{\"uuid\": \"" << *defined << "\"}" << std::endl;
  return 0;
}

}  // namespace volcrypt_cli
