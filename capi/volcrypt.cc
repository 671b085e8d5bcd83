// The C ABI shim: argument checks, conversions and nothing else; every
// decision is the C++ API's. See volcrypt.h for the conventions.
#include "capi/volcrypt.h"

#include <algorithm>
#include <cstring>
#include <openssl/crypto.h>

#include <memory>
#include <string>

#include "capi/c_handles.h"
#include "capi/c_status.h"
#include "capi/c_struct.h"
#include "volcrypt/attacher.h"
#include "volcrypt/barbican_key_manager.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/fixed_key_manager.h"
#include "volcrypt/json.h"
#include "volcrypt/key_migration.h"
#include "volcrypt/keystone_auth.h"
#include "volcrypt/luks.h"
#include "volcrypt/mapped_backend.h"
#include "volcrypt/rbd_backend.h"
#include "volcrypt/volume_service.h"

using volcrypt::capi::CopyString;
using volcrypt::capi::Fail;
using volcrypt::capi::FromStatus;
using volcrypt::capi::Guard;
using volcrypt::capi::NullArgument;
using volcrypt::capi::ReturnHandle;
using volcrypt::capi::ReturnSecret;
using volcrypt::capi::ReturnString;
using volcrypt::capi::Str;
using volcrypt::capi::ReadStruct;

extern "C" {

const char* volcrypt_version(void) { return VOLCRYPT_VERSION_STRING; }

void volcrypt_free(void* ptr) { std::free(ptr); }

void volcrypt_wipe(void* buf, size_t len) {
  if (buf != nullptr) OPENSSL_cleanse(buf, len);
}

int volcrypt_keys_open_file(const char* dir, const char* master_key_path,
                            volcrypt_keys_t** keys, char** errmsg) {
  return Guard(errmsg, [&] {
    if (dir == nullptr || master_key_path == nullptr || keys == nullptr) {
      return NullArgument("dir, master_key_path and keys", errmsg);
    }
    absl::StatusOr<volcrypt::SecretBytes> master =
        volcrypt::ReadMasterKeyFile(master_key_path);
    if (!master.ok()) return FromStatus(master.status(), errmsg);
    return ReturnHandle(volcrypt::NewFileKeyManager(dir, std::move(*master), nullptr),
                        keys, errmsg);
  });
}

int volcrypt_keys_open_fixed(const char* fixed_key_path, volcrypt_keys_t** keys,
                             char** errmsg) {
  return Guard(errmsg, [&] {
    if (fixed_key_path == nullptr || keys == nullptr) {
      return NullArgument("fixed_key_path and keys", errmsg);
    }
    absl::StatusOr<volcrypt::SecretBytes> key = volcrypt::ReadFixedKeyFile(fixed_key_path);
    if (!key.ok()) return FromStatus(key.status(), errmsg);
    *keys = new volcrypt_keys_t{volcrypt::NewFixedKeyManager(std::move(*key), nullptr)};
    return 0;
  });
}

namespace {

volcrypt::SecretBytes SecretOf(const char* s) {
  return s ? volcrypt::SecretBytes::CopyOf(s, std::strlen(s)) : volcrypt::SecretBytes();
}

// The Keystone session of `o`, or nullptr without auth_url.
absl::StatusOr<std::shared_ptr<volcrypt::KeystoneSession>> KeystoneOf(
    const volcrypt_barbican_options_t& o) {
  if (o.auth_url == nullptr) return std::shared_ptr<volcrypt::KeystoneSession>();
  volcrypt::KeystoneOptions k;
  k.auth_url = o.auth_url;
  k.username = Str(o.username);
  k.password = SecretOf(o.password);
  k.user_domain_name = Str(o.user_domain_name, "Default");
  k.project_name = Str(o.project_name);
  k.project_domain_name = Str(o.project_domain_name, "Default");
  k.application_credential_id = Str(o.application_credential_id);
  k.application_credential_secret = SecretOf(o.application_credential_secret);
  k.region = Str(o.region);
  k.ca_path = Str(o.ca_path);
  if (o.timeout_seconds > 0) k.timeout_seconds = o.timeout_seconds;
  return volcrypt::KeystoneSession::Create(std::move(k));
}

}  // namespace

int volcrypt_keys_open_barbican(const volcrypt_barbican_options_t* options,
                                volcrypt_keys_t** keys, char** errmsg) {
  return Guard(errmsg, [&] {
    if (options == nullptr || keys == nullptr) return NullArgument("options and keys", errmsg);
    volcrypt_barbican_options_t options_copy;
    if (int r = ReadStruct(options, VOLCRYPT_FIRST_SIZE(volcrypt_barbican_options_t, region), "volcrypt_barbican_options_t",
                           &options_copy, errmsg)) {
      return r;
    }
    options = &options_copy;
    volcrypt::BarbicanOptions b;
    b.endpoint = Str(options->endpoint);
    b.ca_path = Str(options->ca_path);
    b.project_id = Str(options->project_id);
    if (options->timeout_seconds > 0) b.timeout_seconds = options->timeout_seconds;
    if (options->max_attempts > 0) b.max_attempts = options->max_attempts;
    absl::StatusOr<std::shared_ptr<volcrypt::KeystoneSession>> session = KeystoneOf(*options);
    if (!session.ok()) return FromStatus(session.status(), errmsg);
    b.keystone = std::move(*session);
    return ReturnHandle(volcrypt::NewBarbicanKeyManager(b, nullptr), keys, errmsg);
  });
}

void volcrypt_keys_destroy(volcrypt_keys_t* keys) { delete keys; }

int volcrypt_keys_create(volcrypt_keys_t* keys, int bits, const char* name,
                         char** id, char** errmsg) {
  return Guard(errmsg, [&] {
    if (keys == nullptr || name == nullptr || id == nullptr) {
      return NullArgument("keys, name and id", errmsg);
    }
    volcrypt::KeyRequest request;
    request.bits = bits;
    request.name = name;
    absl::StatusOr<volcrypt::NewKey> made = keys->rep->CreateKey(request);
    if (!made.ok()) return FromStatus(made.status(), errmsg);
    return ReturnString(made->id, id, errmsg);
  });
}

int volcrypt_keys_get(volcrypt_keys_t* keys, const char* id, unsigned char* buf,
                      size_t* len, char** errmsg) {
  return Guard(errmsg, [&] {
    if (keys == nullptr || id == nullptr || len == nullptr) {
      return NullArgument("keys, id and len", errmsg);
    }
    absl::StatusOr<volcrypt::SecretBytes> key = keys->rep->GetKey(id);
    if (!key.ok()) return FromStatus(key.status(), errmsg);
    return ReturnSecret(*key, buf, len, errmsg);
  });
}

int volcrypt_keys_delete(volcrypt_keys_t* keys, const char* id, char** errmsg) {
  return Guard(errmsg, [&] {
    if (keys == nullptr || id == nullptr) return NullArgument("keys and id", errmsg);
    return FromStatus(keys->rep->DeleteKey(id), errmsg);
  });
}

int volcrypt_store_open_sqlite(const char* path, volcrypt_store_t** store,
                               char** errmsg) {
  return Guard(errmsg, [&] {
    if (path == nullptr || store == nullptr) return NullArgument("path and store", errmsg);
    return ReturnHandle(volcrypt::OpenSqliteVolumeStore(path), store, errmsg);
  });
}

int volcrypt_store_open_postgres(const char* conninfo, volcrypt_store_t** store,
                                 char** errmsg) {
  return Guard(errmsg, [&] {
    if (conninfo == nullptr || store == nullptr) {
      return NullArgument("conninfo and store", errmsg);
    }
    return ReturnHandle(volcrypt::OpenPostgresVolumeStore(conninfo), store, errmsg);
  });
}

void volcrypt_store_destroy(volcrypt_store_t* store) { delete store; }

int volcrypt_keys_migrate(volcrypt_store_t* store, volcrypt_keys_t* fixed,
                          volcrypt_keys_t* destination,
                          const volcrypt_migrate_options_t* options,
                          char** report_json, char** errmsg) {
  return Guard(errmsg, [&] {
    if (store == nullptr || destination == nullptr || options == nullptr ||
        report_json == nullptr) {
      return NullArgument("store, destination, options and report_json", errmsg);
    }
    volcrypt_migrate_options_t options_copy;
    if (int r = ReadStruct(options, VOLCRYPT_FIRST_SIZE(volcrypt_migrate_options_t, context), "volcrypt_migrate_options_t",
                           &options_copy, errmsg)) {
      return r;
    }
    options = &options_copy;
    volcrypt::KeyMigrationOptions o;
    o.host = Str(options->host);
    o.dry_run = options->dry_run != 0;
    if (options->max_errors != 0) o.max_errors = std::max(options->max_errors, 0);
    if (options->on_item != nullptr) {
      o.on_item = [options](const volcrypt::KeyMigrationItem& item,
                            const volcrypt::KeyMigrationProgress& p) {
        options->on_item(options->context, volcrypt::KeyMigrationItemToJson(item).c_str(),
                         p.done, p.total);
      };
    }
    absl::StatusOr<volcrypt::KeyMigrationReport> r = volcrypt::MigrateFixedKeyItems(
        *store->rep, fixed ? fixed->rep.get() : nullptr, *destination->rep, o, nullptr);
    if (!r.ok()) return FromStatus(r.status(), errmsg);
    return ReturnString(volcrypt::KeyMigrationReportToJson(*r, true), report_json, errmsg);
  });
}

int volcrypt_store_volume_json(volcrypt_store_t* store, const char* id, char** json,
                               char** errmsg) {
  return Guard(errmsg, [&] {
    if (store == nullptr || id == nullptr || json == nullptr) {
      return NullArgument("store, id and json", errmsg);
    }
    absl::StatusOr<volcrypt::VolumeRecord> v = store->rep->GetVolume(id);
    if (!v.ok()) return FromStatus(v.status(), errmsg);
    return ReturnString(volcrypt::VolumeToJson(*v), json, errmsg);
  });
}

int volcrypt_store_list_json(volcrypt_store_t* store, char** json, char** errmsg) {
  return Guard(errmsg, [&] {
    if (store == nullptr || json == nullptr) return NullArgument("store and json", errmsg);
    absl::StatusOr<std::vector<volcrypt::VolumeRecord>> all = store->rep->ListVolumes({});
    if (!all.ok()) return FromStatus(all.status(), errmsg);
    std::string out;
    out.reserve(all->size() * 520 + 2);
    volcrypt::AppendVolumeListJson(*all, -1, nullptr, &out);
    return ReturnString(out, json, errmsg);
  });
}

int volcrypt_backend_open_mapped(volcrypt_backend_t** backend, char** errmsg) {
  return Guard(errmsg, [&] {
    if (backend == nullptr) return NullArgument("backend", errmsg);
    *backend = new volcrypt_backend_t{volcrypt::NewMappedBackend()};
    return 0;
  });
}

int volcrypt_backend_open_rbd(const volcrypt_rbd_options_t* options,
                              volcrypt_backend_t** backend, char** errmsg) {
  return Guard(errmsg, [&] {
    if (options == nullptr || backend == nullptr) {
      return NullArgument("options and backend", errmsg);
    }
    volcrypt::RbdBackendOptions o;
    if (int r = volcrypt::capi::ReadRbdOptions(options, &o, errmsg)) return r;
    absl::StatusOr<std::unique_ptr<volcrypt::RbdBackend>> rbd =
        volcrypt::RbdBackend::Connect(o);
    if (!rbd.ok()) return FromStatus(rbd.status(), errmsg);
    volcrypt::RbdBackend* typed = rbd->get();
    *backend = new volcrypt_backend_t{std::move(*rbd), typed};
    return 0;
  });
}

void volcrypt_backend_destroy(volcrypt_backend_t* backend) { delete backend; }

int volcrypt_attacher_connect(const char* uri, volcrypt_attacher_t** attacher,
                              char** errmsg) {
  return Guard(errmsg, [&] {
    if (uri == nullptr || attacher == nullptr) return NullArgument("uri and attacher", errmsg);
    return ReturnHandle(volcrypt::Attacher::Connect(uri), attacher, errmsg);
  });
}

void volcrypt_attacher_destroy(volcrypt_attacher_t* attacher) { delete attacher; }

int volcrypt_service_create(const volcrypt_service_options_t* options,
                            volcrypt_service_t** service, char** errmsg) {
  return Guard(errmsg, [&] {
    if (options == nullptr || service == nullptr) {
      return NullArgument("options and service", errmsg);
    }
    volcrypt_service_options_t options_copy;
    if (int r = ReadStruct(options, VOLCRYPT_FIRST_SIZE(volcrypt_service_options_t, host), "volcrypt_service_options_t",
                           &options_copy, errmsg)) {
      return r;
    }
    options = &options_copy;
    if (options->keys == nullptr || options->store == nullptr) {
      return NullArgument("options->keys and options->store", errmsg);
    }
    volcrypt::VolumeServiceOptions o;
    o.keys = options->keys->rep.get();
    o.store = options->store->rep.get();
    o.mapped = options->mapped ? options->mapped->rep.get() : nullptr;
    if (options->rbd != nullptr && options->rbd->rbd == nullptr) {
      return Fail(EINVAL, "options->rbd is not an rbd backend", errmsg);
    }
    o.rbd = options->rbd ? options->rbd->rbd : nullptr;
    o.attacher = options->attacher ? options->attacher->rep.get() : nullptr;
    o.host = Str(options->host);
    return ReturnHandle(volcrypt::VolumeService::Create(o), service, errmsg);
  });
}

void volcrypt_service_destroy(volcrypt_service_t* service) { delete service; }

int volcrypt_volume_create(volcrypt_service_t* service,
                           const volcrypt_create_request_t* request, char** json,
                           char** errmsg) {
  return Guard(errmsg, [&] {
    if (service == nullptr || request == nullptr || json == nullptr) {
      return NullArgument("service, request and json", errmsg);
    }
    volcrypt_create_request_t request_copy;
    if (int r = ReadStruct(request, VOLCRYPT_FIRST_SIZE(volcrypt_create_request_t, project_id), "volcrypt_create_request_t",
                           &request_copy, errmsg)) {
      return r;
    }
    request = &request_copy;
    volcrypt::CreateVolumeRequest r;
    r.id = Str(request->id);
    if (request->path != nullptr) {
      r.location = volcrypt::VolumeLocation::Path(request->path);
    } else {
      r.location = volcrypt::VolumeLocation::Rbd(Str(request->pool), Str(request->image));
    }
    r.size_bytes = request->size_bytes;
    absl::StatusOr<volcrypt::LuksFormat> format =
        volcrypt::ParseLuksFormat(Str(request->format, "luks1"));
    if (!format.ok()) return FromStatus(format.status(), errmsg);
    r.encryption.format = *format;
    r.encryption.cipher = Str(request->cipher, "aes-xts-plain64");
    if (request->key_bits != 0) r.encryption.key_bits = request->key_bits;
    absl::StatusOr<volcrypt::EncryptionEngine> engine =
        volcrypt::ParseEncryptionEngine(Str(request->engine, "qemu"));
    if (!engine.ok()) return FromStatus(engine.status(), errmsg);
    r.encryption.engine = *engine;
    absl::StatusOr<volcrypt::KdfPolicy> kdf =
        volcrypt::ParseKdfPolicy(Str(request->kdf, "machine-key"));
    if (!kdf.ok()) return FromStatus(kdf.status(), errmsg);
    r.encryption.kdf = *kdf;
    r.defer_format = request->defer_format != 0;
    r.user_id = Str(request->user_id);
    r.project_id = Str(request->project_id);
    r.native_rbd_format = request->native_format != 0;
    absl::StatusOr<volcrypt::VolumeRecord> v = service->rep->CreateVolume(r);
    if (!v.ok()) return FromStatus(v.status(), errmsg);
    return ReturnString(volcrypt::VolumeToJson(*v), json, errmsg);
  });
}

int volcrypt_volume_delete(volcrypt_service_t* service, const char* id, char** errmsg) {
  return Guard(errmsg, [&] {
    if (service == nullptr || id == nullptr) return NullArgument("service and id", errmsg);
    return FromStatus(service->rep->DeleteVolume(id), errmsg);
  });
}

int volcrypt_volume_extend(volcrypt_service_t* service, const char* id,
                           uint64_t size_bytes, char** errmsg) {
  return Guard(errmsg, [&] {
    if (service == nullptr || id == nullptr) return NullArgument("service and id", errmsg);
    return FromStatus(service->rep->ExtendVolume(id, size_bytes).status(), errmsg);
  });
}

int volcrypt_volume_verify(volcrypt_service_t* service, const char* id, int* keyslot,
                           char** errmsg) {
  return Guard(errmsg, [&] {
    if (service == nullptr || id == nullptr || keyslot == nullptr) {
      return NullArgument("service, id and keyslot", errmsg);
    }
    absl::StatusOr<int> slot = service->rep->VerifyVolumeKey(id);
    if (!slot.ok()) return FromStatus(slot.status(), errmsg);
    *keyslot = *slot;
    return 0;
  });
}

int volcrypt_volume_attach_plan(volcrypt_service_t* service, const char* id,
                                const char* target_dev, char** secret_xml,
                                char** disk_xml, unsigned char* passphrase, size_t* len,
                                char** errmsg) {
  volcrypt_attach_options_t o = {sizeof o, target_dev, nullptr, 0, 0, 0};
  return volcrypt_volume_attach_plan_with_options(service, id, &o, secret_xml, disk_xml,
                                                  passphrase, len, errmsg);
}

int volcrypt_volume_attach(volcrypt_service_t* service, const char* id,
                           const char* domain, int live, int config,
                           const char* target_dev, char** errmsg) {
  if (live == 0 && config == 0) {
    return Fail(EINVAL, "attach needs live, config or both", errmsg);
  }
  volcrypt_attach_options_t o = {sizeof o, target_dev, nullptr, 0, live, config};
  return volcrypt_volume_attach_with_options(service, id, domain, &o, errmsg);
}

int volcrypt_volume_detach(volcrypt_service_t* service, const char* id, char** errmsg) {
  return Guard(errmsg, [&] {
    if (service == nullptr || id == nullptr) return NullArgument("service and id", errmsg);
    return FromStatus(service->rep->DetachVolume(id).status(), errmsg);
  });
}

int volcrypt_reconcile(volcrypt_service_t* service, int64_t grace_seconds, int* acted,
                       char** errmsg) {
  return Guard(errmsg, [&] {
    if (service == nullptr || acted == nullptr) return NullArgument("service and acted", errmsg);
    absl::StatusOr<int> n = service->rep->Reconcile(grace_seconds);
    if (!n.ok()) return FromStatus(n.status(), errmsg);
    *acted = *n;
    return 0;
  });
}

int volcrypt_luks_inspect(const char* path, char** json, char** errmsg) {
  return Guard(errmsg, [&] {
    if (path == nullptr || json == nullptr) return NullArgument("path and json", errmsg);
    absl::StatusOr<volcrypt::luks::LuksInfo> info = volcrypt::luks::Inspect(path);
    if (!info.ok()) return FromStatus(info.status(), errmsg);
    return ReturnString(volcrypt::LuksInfoToJson(*info), json, errmsg);
  });
}

int volcrypt_luks_verify_passphrase(const char* path, const unsigned char* passphrase,
                                    size_t len, int* keyslot, char** errmsg) {
  return Guard(errmsg, [&] {
    if (path == nullptr || passphrase == nullptr || keyslot == nullptr) {
      return NullArgument("path, passphrase and keyslot", errmsg);
    }
    absl::StatusOr<int> slot = volcrypt::luks::VerifyPassphrase(
        path, volcrypt::SecretBytes::CopyOf(passphrase, len));
    if (!slot.ok()) return FromStatus(slot.status(), errmsg);
    *keyslot = *slot;
    return 0;
  });
}

}  // extern "C"
