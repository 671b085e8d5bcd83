/* File: volcrypt.h
 * -----------------------------------------------------------------------------
 * The C ABI of volcrypt, for control planes in C, Python (ctypes), Go (cgo)
 * and anything else that can call C. It is a thin shim over the C++ API.
 *
 * Conventions, for every function below:
 *  - Returns 0 on success or a negative errno (the one libcryptsetup, librbd,
 *    libvirt or the OS reported, or the one volcrypt's status maps to):
 *    -ENOENT not found, -EEXIST already exists, -EINVAL bad argument,
 *    -EACCES/-EPERM refused (-EPERM: no keyslot accepts the passphrase),
 *    -EBUSY wrong state, -EAGAIN unavailable (retry), -ETIMEDOUT,
 *    -ERANGE a caller buffer is too small, -ENOMEM, -EIO.
 *  - The last parameter, `errmsg`, may be NULL. If not NULL and the call
 *    fails, *errmsg is set to a malloc'd message naming what failed (never a
 *    key); free it with volcrypt_free(). On success it is left untouched.
 *  - Out-handles and out-strings are set only on success. Strings returned
 *    through `char **` are malloc'd, free them with volcrypt_free().
 *  - destroy(NULL) is a no-op. A handle must outlive every handle created
 *    from it (destroy a service before its keys, store and backends).
 *  - Key bytes and passphrases cross this ABI only into caller buffers with
 *    an in/out size: on -ERANGE, *len holds the size needed. Wipe them when
 *    done (volcrypt_wipe).
 *  - Thread safety: every handle may be used from several threads at once;
 *    destroy must not race with other calls on the same handle.
 *  - Option structs start with `struct_size` (set it to sizeof the struct);
 *    fields may be added at the end in later versions.
 *
 *   volcrypt_keys_t *keys; volcrypt_store_t *store; volcrypt_backend_t *mapped;
 *   volcrypt_service_t *svc; char *err = NULL, *json = NULL;
 *   volcrypt_keys_open_file("/var/lib/vc/keys", "/var/lib/vc/master.key", &keys, &err);
 *   volcrypt_store_open_sqlite("/var/lib/vc/volumes.db", &store, &err);
 *   volcrypt_backend_open_mapped(&mapped, &err);
 *   volcrypt_service_options_t o = {sizeof o, keys, store, mapped, NULL, NULL, NULL};
 *   volcrypt_service_create(&o, &svc, &err);
 *   volcrypt_create_request_t r = {sizeof r};
 *   r.id = "v1"; r.path = "/srv/vols/v1"; r.size_bytes = 1 << 30;
 *   if (volcrypt_volume_create(svc, &r, &json, &err) < 0) { ... volcrypt_free(err); }
 */
#ifndef VOLCRYPT_C_H_
#define VOLCRYPT_C_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VOLCRYPT_VERSION_MAJOR 0
#define VOLCRYPT_VERSION_MINOR 1

/* Distinct opaque handles: mixing them up does not compile. */
typedef struct volcrypt_keys_t volcrypt_keys_t;         /* a KeyManager */
typedef struct volcrypt_store_t volcrypt_store_t;       /* a VolumeStore */
typedef struct volcrypt_backend_t volcrypt_backend_t;   /* a BlockBackend */
typedef struct volcrypt_attacher_t volcrypt_attacher_t; /* a libvirt connection */
typedef struct volcrypt_service_t volcrypt_service_t;   /* a VolumeService */

/* "0.1.0": the library's version. Static storage; do not free. */
const char *volcrypt_version(void);

/* Frees a string or message returned by volcrypt. NULL is a no-op. */
void volcrypt_free(void *ptr);

/* Overwrites `len` bytes at `buf` with zeros in a way the compiler keeps. */
void volcrypt_wipe(void *buf, size_t len);

/* ---- Key managers ------------------------------------------------------ */

/* Opens (creating 0700 if missing) a file key manager in `dir` whose keys are
 * sealed under the 32-byte master key in `master_key_path` (raw or 64 hex
 * characters, mode 0600). -EACCES: wrong master key or a file others can
 * read. */
int volcrypt_keys_open_file(const char *dir, const char *master_key_path,
                            volcrypt_keys_t **keys, char **errmsg);

/* castellan's fixed key (ConfKeyManager): `fixed_key_path` holds the hex key
 * as its config does. */
int volcrypt_keys_open_fixed(const char *fixed_key_path,
                             volcrypt_keys_t **keys, char **errmsg);

typedef struct {
  size_t struct_size;
  const char *endpoint;     /* "https://barbican:9311"; NULL with auth_url:
                               the key-manager endpoint of the catalog */
  const char *ca_path;      /* extra CA bundle, or NULL */
  int timeout_seconds;      /* per request, 0: 10 */
  int max_attempts;         /* for 5xx and transport errors, 0: 3 */
  /* Without Keystone (test beds, trusted networks): */
  const char *project_id;   /* sent as X-Project-Id */
  /* Keystone v3 (auth_url set): a password scoped to a project, or an
   * application credential. Secrets are copied; wipe yours after the call. */
  const char *auth_url;     /* "https://keystone:5000/v3" */
  const char *username;
  const char *password;
  const char *user_domain_name;     /* NULL: "Default" */
  const char *project_name;
  const char *project_domain_name;  /* NULL: "Default" */
  const char *application_credential_id;
  const char *application_credential_secret;
  const char *region;               /* catalog region, NULL: any */
} volcrypt_barbican_options_t;

/* OpenStack Barbican (REST v1). With auth_url, Keystone tokens (renewed
 * before they expire); contacting Keystone here only when the endpoint comes
 * from the catalog. -EACCES: Keystone refused the credentials. */
int volcrypt_keys_open_barbican(const volcrypt_barbican_options_t *options,
                                volcrypt_keys_t **keys, char **errmsg);

void volcrypt_keys_destroy(volcrypt_keys_t *keys);

/* Creates a random key of `bits` named `name`; *id (malloc'd) is its UUID. */
int volcrypt_keys_create(volcrypt_keys_t *keys, int bits, const char *name,
                         char **id, char **errmsg);

/* Copies the bytes of key `id` into `buf` (capacity *len); sets *len to the
 * key size. -ERANGE if the buffer is too small (*len = size needed). */
int volcrypt_keys_get(volcrypt_keys_t *keys, const char *id,
                      unsigned char *buf, size_t *len, char **errmsg);

/* Deletes key `id`. -ENOENT if there is none. */
int volcrypt_keys_delete(volcrypt_keys_t *keys, const char *id,
                         char **errmsg);

/* ---- The volume database ------------------------------------------------ */

int volcrypt_store_open_sqlite(const char *path, volcrypt_store_t **store,
                               char **errmsg);
/* A PostgreSQL volume database that several hosts may share (a libpq
 * connection string; errors never repeat it). -ECONNREFUSED if the server
 * cannot be reached. */
int volcrypt_store_open_postgres(const char *conninfo, volcrypt_store_t **store,
                                 char **errmsg);

void volcrypt_store_destroy(volcrypt_store_t *store);

/* ---- Moving off the fixed key ------------------------------------------ */

typedef struct {
  size_t struct_size;
  const char *host;         /* whose volumes and backups; NULL: this
                               machine's host name */
  int dry_run;              /* report what would change, change nothing */
  int max_errors;           /* abort when more items failed; 0: 3 (cinder's),
                               < 0: abort at the first failure */
  /* Called after each item with its result as JSON (see *report_json's
   * "items"), items done and the total. May be NULL. */
  void (*on_item)(void *context, const char *item_json, int done, int total);
  void *context;
} volcrypt_migrate_options_t;

/* Moves `options->host`'s volumes and backups off castellan's fixed key
 * (the all-zeros id; `fixed` from volcrypt_keys_open_fixed, or NULL if none
 * is configured) to `destination`, cinder's way, resumable after any crash
 * (see docs/design.md). *report_json: {"host", "migrated", "failed", "skipped",
 * "aborted", "volumes_remaining", "backups_remaining", "not_started"?,
 * "items": [...]}. Item failures are in the report, not the return value. */
int volcrypt_keys_migrate(volcrypt_store_t *store, volcrypt_keys_t *fixed,
                          volcrypt_keys_t *destination,
                          const volcrypt_migrate_options_t *options,
                          char **report_json, char **errmsg);

/* *json: the volume's record (cinder's field names; see volcrypt/json.h). */
int volcrypt_store_volume_json(volcrypt_store_t *store, const char *id,
                               char **json, char **errmsg);
/* *json: an array of every volume record. */
int volcrypt_store_list_json(volcrypt_store_t *store, char **json,
                             char **errmsg);

/* ---- Backends ----------------------------------------------------------- */

/* Files and block devices at host paths. */
int volcrypt_backend_open_mapped(volcrypt_backend_t **backend, char **errmsg);

typedef struct {
  size_t struct_size;
  const char *ceph_conf;                /* NULL: librados' default */
  const char *client_id;                /* NULL: "admin" */
  const char *keyring;                  /* NULL: from ceph.conf */
  int timeout_seconds;                  /* 0: 10 */
  const char *libvirt_auth_secret_uuid; /* NULL: no <auth> in disk XML */
} volcrypt_rbd_options_t;

/* Ceph RBD images. -EAGAIN (or the connect errno) if the cluster cannot be
 * reached within the timeout. */
int volcrypt_backend_open_rbd(const volcrypt_rbd_options_t *options,
                              volcrypt_backend_t **backend, char **errmsg);
void volcrypt_backend_destroy(volcrypt_backend_t *backend);

/* ---- libvirt ------------------------------------------------------------ */

/* Connects to libvirtd at `uri` ("qemu:///system"). -EAGAIN if unreachable. */
int volcrypt_attacher_connect(const char *uri, volcrypt_attacher_t **attacher,
                              char **errmsg);
void volcrypt_attacher_destroy(volcrypt_attacher_t *attacher);

/* ---- The volume service (create, delete, extend, attach, ...) ---------- */

typedef struct {
  size_t struct_size;
  volcrypt_keys_t *keys;          /* required */
  volcrypt_store_t *store;        /* required */
  volcrypt_backend_t *mapped;     /* for mapped volumes, or NULL */
  volcrypt_backend_t *rbd;        /* for rbd volumes, or NULL */
  volcrypt_attacher_t *attacher;  /* for attach/detach, or NULL */
  const char *host;               /* NULL: the system's host name */
} volcrypt_service_options_t;

/* The service borrows every handle in `options`; they must outlive it. */
int volcrypt_service_create(const volcrypt_service_options_t *options,
                            volcrypt_service_t **service, char **errmsg);
void volcrypt_service_destroy(volcrypt_service_t *service);

typedef struct {
  size_t struct_size;
  const char *id;           /* NULL: a new UUID */
  const char *path;         /* a mapped volume's host path, or NULL */
  const char *pool;         /* an rbd volume's pool and image, or NULL */
  const char *image;
  uint64_t size_bytes;      /* usable bytes: what the guest sees */
  const char *format;       /* "luks1" (NULL) or "luks2" */
  const char *cipher;       /* NULL: "aes-xts-plain64" */
  int key_bits;             /* AES strength, 0: 256 */
  const char *engine;       /* "qemu" (NULL) or "librbd" */
  const char *kdf;          /* "machine-key" (NULL) or "passphrase" */
  int defer_format;         /* mapped: format at first attach */
  const char *user_id;
  const char *project_id;
} volcrypt_create_request_t;

/* Creates an encrypted volume (record, key, backing volume, LUKS header);
 * on failure nothing is left behind. *json: the new record. */
int volcrypt_volume_create(volcrypt_service_t *service,
                           const volcrypt_create_request_t *request,
                           char **json, char **errmsg);

/* Deletes the volume, then its key, then the record. -EBUSY if attached. */
int volcrypt_volume_delete(volcrypt_service_t *service, const char *id,
                           char **errmsg);

/* Grows the volume so the guest sees exactly `size_bytes`. */
int volcrypt_volume_extend(volcrypt_service_t *service, const char *id,
                           uint64_t size_bytes, char **errmsg);

/* *keyslot: the keyslot the volume's key unlocks (record, key manager and
 * header agree). */
int volcrypt_volume_verify(volcrypt_service_t *service, const char *id,
                           int *keyslot, char **errmsg);

/* The attach plan: *secret_xml and *disk_xml (malloc'd), and the passphrase
 * to set as the secret's value, copied into `passphrase` (capacity *len;
 * -ERANGE if too small, *len = size needed). `target_dev` NULL: "sdb".
 * Not read-only: a mapped volume created with `defer_format` and still
 * blank is LUKS-formatted by this call (its first use, as cinder does);
 * one holding LUKS or any other signature is never formatted (-EEXIST).
 * -EBUSY unless the volume is available or in use. */
int volcrypt_volume_attach_plan(volcrypt_service_t *service, const char *id,
                                const char *target_dev, char **secret_xml,
                                char **disk_xml, unsigned char *passphrase,
                                size_t *len, char **errmsg);

/* Attaches through libvirt (the service needs an attacher): `live` and/or
 * `config` (non-zero). On failure nothing is left in libvirt. */
int volcrypt_volume_attach(volcrypt_service_t *service, const char *id,
                           const char *domain, int live, int config,
                           const char *target_dev, char **errmsg);

/* Detaches; the secret goes when no disk uses it. */
int volcrypt_volume_detach(volcrypt_service_t *service, const char *id,
                           char **errmsg);

/* Finishes or undoes what a crash left (records older than grace_seconds);
 * *acted: how many records it handled. */
int volcrypt_reconcile(volcrypt_service_t *service, int64_t grace_seconds,
                       int *acted, char **errmsg);

/* ---- LUKS headers --------------------------------------------------------- */

/* *json: header facts of the LUKS volume at `path`. -EINVAL if not LUKS. */
int volcrypt_luks_inspect(const char *path, char **json, char **errmsg);

/* *keyslot: the keyslot `passphrase` unlocks. -EPERM if none. */
int volcrypt_luks_verify_passphrase(const char *path,
                                    const unsigned char *passphrase,
                                    size_t len, int *keyslot, char **errmsg);

#ifdef __cplusplus
}
#endif

#endif /* VOLCRYPT_C_H_ */
