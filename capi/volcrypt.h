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
 *    -ERANGE a caller buffer is too small (only that), -EDOM a size out of
 *    range (too large, or too small for a LUKS header), -E2BIG an options struct sets a
 *    field this library does not know, -ENOMEM, -EIO.
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
 *    fields are only ever added at the end. A struct compiled against an
 *    older volcrypt.h (a smaller struct_size, down to the struct's first
 *    published size) works: the fields it lacks take their zero defaults.
 *    One compiled against a newer header works if every field this library
 *    does not know is zero, and fails with -E2BIG otherwise. A struct_size
 *    below the first published size is -EINVAL.
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

/* VOLCRYPT_VERSION_MAJOR, _MINOR, _PATCH and _STRING, from the build. */
#include "volcrypt_version.h"

/* Distinct opaque handles: mixing them up does not compile. */
typedef struct volcrypt_keys_t volcrypt_keys_t;         /* a KeyManager */
typedef struct volcrypt_store_t volcrypt_store_t;       /* a VolumeStore */
typedef struct volcrypt_backend_t volcrypt_backend_t;   /* a BlockBackend */
typedef struct volcrypt_attacher_t volcrypt_attacher_t; /* a libvirt connection */
typedef struct volcrypt_service_t volcrypt_service_t;   /* a VolumeService */

/* The library's version, "MAJOR.MINOR.PATCH" (VOLCRYPT_VERSION_STRING of
 * the header it was built with; a program may compare the two). Static
 * storage; do not free. */
const char *volcrypt_version(void);

/* Frees a string or message returned by volcrypt. NULL is a no-op. */
void volcrypt_free(void *ptr);

/* Overwrites `len` bytes at `buf` with zeros in a way the compiler keeps. */
void volcrypt_wipe(void *buf, size_t len);

/* ---- Key managers ------------------------------------------------------ */

/* Opens (creating 0700 if missing) a file key manager in `dir` whose keys are
 * sealed under the 32-byte master key in `master_key_path` (raw or 64 hex
 * characters, mode 0600).
 * Errors: -EINVAL a NULL argument, or a master key file that is not 32 raw
 * bytes or 64 hex characters or not a regular file; -ENOENT no master key
 * file; -EACCES the master key does not open this directory's keys, or its
 * file is readable by group or others; -ELOOP `dir` or the file is a
 * symlink; other errnos as open(2) and mkdir(2) report them. */
int volcrypt_keys_open_file(const char *dir, const char *master_key_path,
                            volcrypt_keys_t **keys, char **errmsg);

/* castellan's fixed key (ConfKeyManager): `fixed_key_path` holds the hex key
 * as its config does. Creating a key returns the all-zeros id; storing any
 * other bytes is -ENOTSUP.
 * Errors: -EINVAL a NULL argument or a file that is not a hex key; -ENOENT
 * no such file; -EACCES a file readable by group or others. */
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
 * from the catalog.
 * Errors: -EINVAL a NULL argument, an endpoint that is not http(s), neither
 * project_id nor auth_url, or auth_url without complete credentials; -E2BIG
 * see the struct_size rule; -EACCES Keystone refused the credentials;
 * -ENOENT no key-manager endpoint in the catalog; -EAGAIN Keystone
 * unreachable; -ETIMEDOUT it did not answer in time. */
int volcrypt_keys_open_barbican(const volcrypt_barbican_options_t *options,
                                volcrypt_keys_t **keys, char **errmsg);

void volcrypt_keys_destroy(volcrypt_keys_t *keys);

/* Creates a random key of `bits` named `name`; *id (malloc'd) is its UUID.
 * Errors: -EINVAL a NULL argument or a bit length that is not a multiple of
 * 8 between 128 and 512; -EACCES the key manager refused (Barbican 403);
 * -ENOSPC its quota is full (413); -EAGAIN it cannot be reached or answered
 * 5xx after every attempt; -ETIMEDOUT. */
int volcrypt_keys_create(volcrypt_keys_t *keys, int bits, const char *name,
                         char **id, char **errmsg);

/* Copies the bytes of key `id` into `buf` (capacity *len); sets *len to the
 * key size.
 * Errors: -ERANGE the buffer is too small (*len = size needed); -ENOENT no
 * such key; -EINVAL a NULL argument or an id that is not a key id; -EIO a
 * key file that fails its authentication (damaged or tampered with);
 * -EACCES, -EAGAIN, -ETIMEDOUT as for volcrypt_keys_create. */
int volcrypt_keys_get(volcrypt_keys_t *keys, const char *id,
                      unsigned char *buf, size_t *len, char **errmsg);

/* Deletes key `id`.
 * Errors: -ENOENT there is none; -EINVAL a NULL argument or an id that is
 * not a key id; -ENOTSUP the fixed key; -EACCES, -EAGAIN, -ETIMEDOUT as for
 * volcrypt_keys_create. */
int volcrypt_keys_delete(volcrypt_keys_t *keys, const char *id,
                         char **errmsg);

/* Stores the `len` bytes at `key` (16 to 64: 128 to 512 bits) as a new key
 * named `name`; *id (malloc'd) is its UUID, as for volcrypt_keys_create. The
 * bytes are copied; wipe yours after the call.
 * Errors: -EINVAL a NULL argument, another length or a bad name; -ENOTSUP a
 * key manager that cannot store given keys (the fixed key stores only
 * itself); -EACCES, -EAGAIN, -ETIMEDOUT as for volcrypt_keys_create. */
int volcrypt_keys_store(volcrypt_keys_t *keys, const unsigned char *key,
                        size_t len, const char *name, char **id,
                        char **errmsg);

/* ---- The volume database ------------------------------------------------ */

/* Opens (creating 0600 if missing) the SQLite volume database at `path`,
 * upgrading its schema.
 * Errors: -EINVAL a NULL argument; -EBUSY a schema newer than this library
 * or a negative one, or a database that holds other programs' tables
 * (volcrypt never adds its tables to someone else's database); -ENOENT the
 * directory does not exist; -EACCES; -ELOOP `path` is a symlink. */
int volcrypt_store_open_sqlite(const char *path, volcrypt_store_t **store,
                               char **errmsg);
/* A PostgreSQL volume database that several hosts may share (a libpq
 * connection string; errors never repeat it).
 * Errors: -EINVAL a NULL argument; -ECONNREFUSED the server cannot be
 * reached or refused the login; -EBUSY as for volcrypt_store_open_sqlite. */
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

/* *json: the volume's record (cinder's field names; see volcrypt/json.h).
 * Errors: -ENOENT no such volume; -EINVAL a NULL argument or a malformed
 * id; -EIO a row that fails its checks (written behind volcrypt's back). */
int volcrypt_store_volume_json(volcrypt_store_t *store, const char *id,
                               char **json, char **errmsg);
/* *json: an array of every volume record. A row that fails its checks is
 * left out (and logged), never failing the whole list.
 * Errors: -EINVAL a NULL argument; -EAGAIN the database is unreachable. */
int volcrypt_store_list_json(volcrypt_store_t *store, char **json,
                             char **errmsg);

/* ---- Backends ----------------------------------------------------------- */

/* Files and block devices at host paths. Errors: -EINVAL a NULL argument. */
int volcrypt_backend_open_mapped(volcrypt_backend_t **backend, char **errmsg);

typedef struct {
  size_t struct_size;
  const char *ceph_conf;                /* NULL: librados' default */
  const char *client_id;                /* NULL: "admin" */
  const char *keyring;                  /* NULL: from ceph.conf */
  int timeout_seconds;                  /* 0: 10 */
  const char *libvirt_auth_secret_uuid; /* NULL: no <auth> in disk XML */
} volcrypt_rbd_options_t;

/* Ceph RBD images.
 * Errors: -EINVAL a NULL argument or a struct_size below the first
 * published size; -E2BIG see the struct_size rule; -ENOENT a ceph.conf or
 * keyring that does not exist; -EAGAIN (or librados' connect errno, such
 * as -ETIMEDOUT or -EACCES for a refused cephx key) if the cluster cannot
 * be reached within the timeout. */
int volcrypt_backend_open_rbd(const volcrypt_rbd_options_t *options,
                              volcrypt_backend_t **backend, char **errmsg);
void volcrypt_backend_destroy(volcrypt_backend_t *backend);

/* ---- libvirt ------------------------------------------------------------ */

/* Connects to libvirtd at `uri` ("qemu:///system").
 * Errors: -EINVAL a NULL argument or a URI libvirt cannot parse; -EAGAIN
 * libvirtd is unreachable. */
int volcrypt_attacher_connect(const char *uri, volcrypt_attacher_t **attacher,
                              char **errmsg);
void volcrypt_attacher_destroy(volcrypt_attacher_t *attacher);

/* Bytes of a UUID string with its NUL. */
#define VOLCRYPT_UUID_SIZE 37

/* Puts client options->client_id's cephx key into libvirt's secret of usage
 * 'ceph', which rbd disks' <auth> names (nova's rbd_secret_uuid). The key is
 * read from options->keyring, else from the keyring options->ceph_conf
 * names; it never passes through the caller. The secret is
 * options->libvirt_auth_secret_uuid (defined private and persistent, or
 * given the new value if it exists with usage 'ceph'); when that is NULL,
 * the secret of usage name "client.<id> secret", else a new UUID. Its UUID
 * goes to `uuid` (at least VOLCRYPT_UUID_SIZE bytes).
 * Errors: -EINVAL a NULL argument, a client id that is not a cephx user
 * name, or a key that is not base64; -ENOENT no keyring exists or it has no
 * key for the client; -EEXIST the UUID is a secret of another usage, or
 * another secret has that usage name (errmsg names its UUID); -ERANGE
 * uuid_len below VOLCRYPT_UUID_SIZE; -EAGAIN libvirtd is unreachable. */
int volcrypt_ceph_secret_define(volcrypt_attacher_t *attacher,
                                const volcrypt_rbd_options_t *options, char *uuid,
                                size_t uuid_len, char **errmsg);

/* Checks libvirt's secret options->libvirt_auth_secret_uuid: it exists, has
 * usage 'ceph' and a value and, where libvirt lets the value be read (a
 * non-private secret) and the client's keyring is readable, holds its key.
 * Attach of an rbd volume checks the same before it touches anything.
 * Errors: -EINVAL a NULL argument or no UUID; -ENOENT no such secret;
 * -EEXIST a secret of another usage; -ENOKEY it has no value;
 * -EKEYREJECTED it holds another key; -EAGAIN libvirtd is unreachable. */
int volcrypt_ceph_secret_check(volcrypt_attacher_t *attacher,
                               const volcrypt_rbd_options_t *options, char **errmsg);

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

/* The service borrows every handle in `options`; they must outlive it.
 * Errors: -EINVAL a NULL argument, no keys or store, or an `rbd` handle that
 * is not an RBD backend; -E2BIG see the struct_size rule. */
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
  /* Added in 0.2 (older callers' structs end above; it is then 0): */
  int native_format;        /* rbd, engine "librbd": librbd writes the header
                               (rbd_encryption_format, its slow KDF) */
} volcrypt_create_request_t;

/* Creates an encrypted volume (record, key, backing volume, LUKS header);
 * on failure nothing is left behind. *json: the new record. */
int volcrypt_volume_create(volcrypt_service_t *service,
                           const volcrypt_create_request_t *request,
                           char **json, char **errmsg);

/* Deletes the volume, then its key (unless another record uses it), then
 * the record; the volume is removed only while it still holds what its
 * record made (docs/design.md), else left alone with a warning.
 * Errors: -ENOENT no such volume; -EBUSY attached, used by a libvirt domain,
 * snapshots depend on it, or another operation is under way; -EAGAIN a key
 * manager or cluster that cannot be reached (the record stays 'deleting'
 * and a rerun or volcrypt_reconcile finishes it). */
int volcrypt_volume_delete(volcrypt_service_t *service, const char *id,
                           char **errmsg);

/* Grows the volume so the guest sees exactly `size_bytes`.
 * Errors: -ENOENT no such volume; -EINVAL a shrink or a size that is not a
 * multiple of the sector size; -EDOM a size too large; -EBUSY unless the
 * volume is available; -ENOSPC no room to grow. */
int volcrypt_volume_extend(volcrypt_service_t *service, const char *id,
                           uint64_t size_bytes, char **errmsg);

/* *keyslot: the keyslot the volume's key unlocks (record, key manager and
 * header agree).
 * Errors: -ENOENT no such volume, or its key is gone; -EPERM the key opens
 * no keyslot; -EINVAL the volume holds no LUKS header, a truncated one, or
 * one whose payload leaves less than the recorded size. */
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
 * `config` (non-zero). On failure nothing is left in libvirt. Errors as
 * volcrypt_volume_attach_with_options, and -EINVAL if neither live nor
 * config is set. */
int volcrypt_volume_attach(volcrypt_service_t *service, const char *id,
                           const char *domain, int live, int config,
                           const char *target_dev, char **errmsg);

/* How a volume is attached (volcrypt_volume_attach_with_options) or planned
 * (volcrypt_volume_attach_plan_with_options). Zero means the default. */
typedef struct {
  size_t struct_size;
  const char *target_dev;   /* NULL: "sdb" */
  const char *target_bus;   /* NULL: "scsi" ("virtio", "sata", ...) */
  int ephemeral_secret;     /* non-zero: the libvirt secret's value lives in
                               libvirtd's memory only, never in its state
                               directory; a libvirtd restart forgets it (a
                               running QEMU keeps its open disk, but the
                               next start of the domain needs a new attach) */
  int live;                 /* attach to the running domain; */
  int config;               /* and/or to its persistent definition; both 0:
                               live only */
} volcrypt_attach_options_t;

/* volcrypt_volume_attach with every option of the C++ API. `options` NULL:
 * the defaults. -EINVAL: a combination no engine can attach (LUKS2 with the
 * qemu engine; a live hot-plug of a librbd-engine disk, which libvirt 9.0
 * cannot do), before anything changes. -EBUSY unless the volume is
 * available. -ENOENT: no such volume or domain. On failure nothing is left
 * in libvirt and the volume is available again. */
int volcrypt_volume_attach_with_options(volcrypt_service_t *service,
                                        const char *id, const char *domain,
                                        const volcrypt_attach_options_t *options,
                                        char **errmsg);

/* volcrypt_volume_attach_plan with a target bus and an ephemeral secret
 * (`options->live` and `config` are ignored). Errors as attach_plan's. */
int volcrypt_volume_attach_plan_with_options(
    volcrypt_service_t *service, const char *id,
    const volcrypt_attach_options_t *options, char **secret_xml,
    char **disk_xml, unsigned char *passphrase, size_t *len, char **errmsg);

/* Writes the volume's LUKS passphrase to the caller's file descriptor `fd`
 * (a pipe to `cryptsetup --key-file /dev/fd/N` or `qemu-img`'s secret
 * file), so that no copy of it is held by the caller's runtime. Nothing
 * else is written; `fd` stays open. -ENOENT: no such volume or key; -EIO:
 * a short write; -EPIPE: the reader went away; -EBADF: `fd` is not open for
 * writing. */
int volcrypt_volume_write_passphrase(volcrypt_service_t *service,
                                     const char *id, int fd, char **errmsg);

/* ---- Snapshots and clones (rbd volumes) -------------------------------- */

/* Snapshots rbd volume `volume_id` as RBD snapshot "snapshot-<snapshot_id>";
 * the snapshot's record shares the volume's key id. *json: the snapshot
 * record. -ENOTSUP for a mapped volume; -EEXIST if the id is taken; -EBUSY
 * unless the volume is available or in use. */
int volcrypt_volume_snapshot(volcrypt_service_t *service, const char *volume_id,
                             const char *snapshot_id, char **json,
                             char **errmsg);

/* Deletes a snapshot (the RBD snapshot, then the record). -EBUSY while
 * clones depend on it; -ENOENT if there is no such snapshot. */
int volcrypt_snapshot_delete(volcrypt_service_t *service,
                             const char *snapshot_id, char **errmsg);

/* Clones snapshot `snapshot_id` into a new rbd volume `new_volume_id` at
 * `pool`/`image`, with a new key id holding the same key bytes (so the
 * inherited header opens with the clone's own key). *json: the new
 * volume's record. Fails and rolls back as volcrypt_volume_create does;
 * -ENOENT: no such snapshot; -EEXIST: the id or image is taken. */
int volcrypt_volume_clone(volcrypt_service_t *service, const char *snapshot_id,
                          const char *new_volume_id, const char *pool,
                          const char *image, char **json, char **errmsg);

/* Detaches from wherever libvirt really has the disk (the running domain,
 * its persistent definition, or both); the secret goes when no disk uses it.
 * Errors: -ENOENT no such volume; -EINVAL it is not attached; -EBUSY
 * another operation is under way or no attacher is configured; -EAGAIN
 * libvirtd unreachable (the record stays 'detaching'; a rerun or
 * volcrypt_reconcile finishes it). */
int volcrypt_volume_detach(volcrypt_service_t *service, const char *id,
                           char **errmsg);

/* Finishes or undoes what a crash left (records older than grace_seconds);
 * *acted: how many records it handled. It goes on past a record it cannot
 * finish.
 * Errors: the first record's error (-EAGAIN for a service that cannot be
 * reached), after handling every other record; -EINVAL a NULL argument. */
int volcrypt_reconcile(volcrypt_service_t *service, int64_t grace_seconds,
                       int *acted, char **errmsg);

/* ---- Bringing existing volumes in ----------------------------------------- */

typedef struct {
  size_t struct_size;
  const char *id;           /* NULL: a new UUID */
  const char *path;         /* a mapped volume's host path, or NULL */
  const char *pool;         /* an rbd volume's pool and image, or NULL */
  const char *image;
  const char *engine;       /* "qemu" (NULL) or "librbd" (rbd only; LUKS2) */
  /* Exactly one way to open it: */
  const char *key_id;       /* a key already in the key manager (a Barbican
                               secret, castellan's all-zeros fixed key id) */
  const unsigned char *key; /* raw key bytes (stored as a new key), or a
                               passphrase when `is_passphrase` (stored as it
                               is, never hexed); copied, wipe yours after */
  size_t key_len;
  int is_passphrase;
  int unencrypted;          /* a plain volume: no key, never LUKS */
  uint64_t size_bytes;      /* 0: what the header leaves; else must match */
  const char *user_id;
  const char *project_id;
} volcrypt_manage_request_t;

/* Takes over an existing volume without writing to it: reads its header,
 * proves the key opens a keyslot, derives the usable size from the header's
 * real payload offset and records it (docs/design.md, "Bringing an existing
 * cloud in"). On failure nothing is recorded or stored. *json: the record.
 * Errors: -EPERM the key opens no keyslot; -EEXIST the id or the location
 * is taken, a key is already named for the id, or `unencrypted` for a
 * volume holding LUKS; -EINVAL a NULL argument, no LUKS header, a truncated
 * or malformed one, a header UUID that is not a UUID, a size that does not
 * match, a volume the engine cannot open (LUKS2 with "qemu"), or not
 * exactly one way to open it; -ENOENT nothing at the location, or no such
 * key; -E2BIG a request struct from a newer header setting fields this
 * library does not know; -EAGAIN, -ETIMEDOUT a key manager or cluster that
 * cannot be reached (nothing is left; a crash leaves 'managing', which
 * volcrypt_reconcile undoes without touching the volume). */
int volcrypt_volume_manage(volcrypt_service_t *service,
                           const volcrypt_manage_request_t *request,
                           char **json, char **errmsg);

/* Forgets volume `id`: its record goes, its volume and key stay.
 * Errors: -ENOENT no such volume; -EBUSY not available (attached, used by a
 * libvirt domain, or another operation under way); -ENOTEMPTY snapshots
 * depend on it; -EINVAL a NULL argument. */
int volcrypt_volume_unmanage(volcrypt_service_t *service, const char *id,
                             char **errmsg);

/* ---- Key rotation (docs/flows.md, "Key rotation") ------------------------- */

/* Gives volume `id` a new key without copying its data: a new key in the
 * key manager, a keyslot for its passphrase, the new key id recorded, the
 * old passphrase's keyslots removed, the old key deleted unless a snapshot
 * or backup names it. An attached volume needs a service with an attacher:
 * its libvirt secret gets the new passphrase first. A failure is undone (or
 * finished) before returning; a crash leaves 'rekeying' for
 * volcrypt_reconcile. *json (may be NULL): the record afterwards.
 * Errors: -EINVAL a NULL argument, a malformed id, a volume without a key,
 * or an attached volume without an attacher (or with a secret from before
 * per-attach secrets); -ENOENT no such volume; -EBUSY the volume is neither
 * available nor in use (another flow holds it); -EPERM the recorded key does
 * not open the volume's header (nothing written; the volume is marked
 * error); -EAGAIN the key manager, the store or libvirt could not be
 * reached; otherwise the errno of the failing step (I/O, libcryptsetup,
 * librbd). */
int volcrypt_volume_rekey(volcrypt_service_t *service, const char *id,
                          char **json, char **errmsg);

typedef struct {
  size_t struct_size;
  const char *host;            /* whose volumes; NULL: the service's host */
  int64_t key_created_before;  /* Unix seconds: rotate keys made before;
                                  0: now. Reruns pass the same value */
  int dry_run;                 /* report what would be rotated, change nothing */
  int max_errors;              /* stop when more volumes failed; 0: 3,
                                  < 0: stop at the first failure */
  /* Called after each volume with its result as JSON ({"outcome":
   * "rotated"|"would-rotate"|"skipped"|"failed", "volume_id", "old_key_id",
   * "new_key_id"?, "error"?}), volumes done and the total. May be NULL. */
  void (*on_item)(void *context, const char *item_json, int done, int total);
  void *context;
} volcrypt_rotate_options_t;

/* Rotates the key of every available or attached volume of `options->host`
 * whose key was made before the cutoff, one volume at a time (`store` is the
 * service's). Hosts sharing a database rotate each volume once.
 * *report_json: {"host", "rotated", "failed", "skipped", "aborted", "items"}.
 * Volume failures are in the report, not the return value.
 * Errors: -EINVAL a NULL argument or a struct_size below the first
 * published size; -E2BIG a field this library does not know is set;
 * -EAGAIN the database is unreachable. */
int volcrypt_keys_rotate(volcrypt_service_t *service, volcrypt_store_t *store,
                         const volcrypt_rotate_options_t *options,
                         char **report_json, char **errmsg);

/* ---- Copy-conversion (docs/design.md, "Conversion") ---------------------- */

typedef struct {
  size_t struct_size;
  int reencrypt;            /* 0: a plain volume becomes encrypted; non-zero:
                               an encrypted one gets a new volume key */
  const char *path;         /* the target: a host path, or NULL and */
  const char *pool;         /* an rbd pool and image */
  const char *image;
  const char *format;       /* "luks1" (NULL) or "luks2" */
  const char *engine;       /* "qemu" (NULL) or "librbd" (LUKS2 needs it) */
  int key_bits;             /* AES strength, 0: 256 */
  uint32_t sector_size;     /* 0: 512; LUKS2 also 4096 */
  int keep_source;          /* keep the old location and its key */
  /* Called from the converting thread with the payload bytes dealt with
   * and the total (the volume's size); may be NULL. */
  void (*on_progress)(void *context, uint64_t done_bytes, uint64_t total_bytes);
  void *context;
  /* Added after the first published size: at most this many bytes per
   * second (0: unlimited); an online conversion passes it to libvirt. */
  uint64_t bandwidth;
} volcrypt_convert_options_t;

/* Copies volume `id` into a new volume at the target under a new volume key
 * and header, verifies it, switches the record to it in one transaction,
 * then deletes the old location and the old key (unless keep_source, or
 * another record uses the key). A kill leaves 'converting': a rerun
 * continues from its journal once the killed process is gone, and
 * volcrypt_reconcile goes back to the old volume before the switch and
 * finishes after it. *json (may be NULL): the record afterwards.
 * Errors: -EINVAL a NULL argument, no target or two, a bad format, engine,
 * size or spec, or reencrypt not matching the volume; -E2BIG see the
 * struct_size rule; -ENOENT no such volume; -EEXIST the target exists or a
 * record names it, or the source is not what its record says; -EBUSY the
 * volume is not available (or another process converts it); -ENOTEMPTY
 * snapshots depend on it; -ENOTSUP a
 * cipher other than aes-xts-plain64; -EPERM the recorded key does not open
 * the source; -EIO the copy did not verify; otherwise the errno of the
 * failing step. */
int volcrypt_volume_convert(volcrypt_service_t *service, const char *id,
                            const volcrypt_convert_options_t *options,
                            char **json, char **errmsg);

/* ---- LUKS headers --------------------------------------------------------- */

/* *json: header facts of the LUKS volume at `path`.
 * Errors: -EINVAL not LUKS, or a truncated header; -ENOENT no such file;
 * -EACCES. */
int volcrypt_luks_inspect(const char *path, char **json, char **errmsg);

/* *keyslot: the keyslot `passphrase` unlocks.
 * Errors: -EPERM none; -EINVAL not LUKS, or a truncated header; -ENOENT no
 * such file. */
int volcrypt_luks_verify_passphrase(const char *path,
                                    const unsigned char *passphrase,
                                    size_t len, int *keyslot, char **errmsg);

/* ---- Live migration -------------------------------------------------------- */

typedef struct {
  size_t struct_size;
  const char *domain;            /* name, as the attachments record it */
  const char *source_uri;        /* the service's attacher's libvirt */
  const char *destination_uri;   /* `destination`'s libvirt */
  const char *destination_host;  /* host the records will name; NULL: the
                                    destination daemon's host name */
  const char *migrate_uri;       /* tcp://HOST:PORT for QEMU's stream;
                                    NULL: libvirt's choice */
} volcrypt_domain_migrate_options_t;

/* Moves running domain `options->domain` live from the service's libvirt to
 * `destination` with its volcrypt volumes: each volume's secret is defined
 * on the destination (same UUID and value, read with the service's key
 * manager), libvirt migrates (live, persistent there, undefined here; unsafe
 * allowed for files on a shared path), then the records name the
 * destination host and the source's secrets go. A failed migration is
 * undone; a crash leaves 'migrating', which volcrypt_reconcile on each host
 * settles by where libvirt runs the domain. *json (may be NULL):
 * {"domain", "volumes": [ids]}.
 * Errors: -EINVAL a NULL argument, a struct_size below the first published
 * size, or the destination host equal to the service's; -E2BIG a field this
 * library does not know is set; -EOPNOTSUPP a volume on a block device
 * (it may be another disk on the destination; nothing changed); -ENOENT the
 * records and libvirt's domain disagree, or no such domain; -EBUSY a disk
 * decrypted through a volcrypt secret that no record explains, or a volume
 * another flow holds; -EAGAIN a daemon, the store or the key manager could
 * not be reached; otherwise the errno of the failing step (libvirt's
 * migration errors carry its message). */
int volcrypt_domain_migrate(volcrypt_service_t *service,
                            volcrypt_attacher_t *destination,
                            const volcrypt_domain_migrate_options_t *options,
                            char **json, char **errmsg);

#ifdef __cplusplus
}
#endif

#endif /* VOLCRYPT_C_H_ */
