/* The C ABI tested from C: each function's success, its documented errors,
 * NULL arguments, too-small buffers, out-parameters untouched on failure.
 * Uses only <volcrypt.h> and the shared library. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "volcrypt.h"

static int failures = 0;
#define EXPECT(cond)                                              \
  do {                                                            \
    if (!(cond)) {                                                \
      fprintf(stderr, "%s:%d: EXPECT(%s) failed\n", __FILE__,     \
              __LINE__, #cond);                                   \
      ++failures;                                                 \
    }                                                             \
  } while (0)

static char dir[] = "/tmp/volcrypt-capi-XXXXXX";

static const char *in_dir(const char *name) {
  static char paths[8][4096];
  static int next = 0;
  char *p = paths[next++ % 8];
  snprintf(p, 4096, "%s/%s", dir, name);
  return p;
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
  chmod(path, 0600);
}

static void test_basics(void) {
  EXPECT(strcmp(volcrypt_version(), VOLCRYPT_VERSION_STRING) == 0);
  EXPECT(strcmp(volcrypt_version(), EXPECTED_VERSION) == 0);
  volcrypt_free(NULL);
  volcrypt_keys_destroy(NULL);
  volcrypt_store_destroy(NULL);
  volcrypt_backend_destroy(NULL);
  volcrypt_attacher_destroy(NULL);
  volcrypt_service_destroy(NULL);
  unsigned char b[4] = {1, 2, 3, 4};
  volcrypt_wipe(b, sizeof b);
  EXPECT(b[0] == 0 && b[3] == 0);
}

static void test_keys(void) {
  char *err = NULL;
  volcrypt_keys_t *keys = (volcrypt_keys_t *)0x1;
  /* NULL arguments: -EINVAL, handle untouched, message set. */
  EXPECT(volcrypt_keys_open_file(NULL, "x", &keys, &err) == -EINVAL);
  EXPECT(keys == (volcrypt_keys_t *)0x1);
  EXPECT(err != NULL && strstr(err, "NULL") != NULL);
  volcrypt_free(err);
  err = NULL;
  /* A missing master key file: -ENOENT; errmsg may be NULL. */
  EXPECT(volcrypt_keys_open_file(in_dir("keys"), in_dir("nope"), &keys, NULL) == -ENOENT);
  /* A master key others can read: -EACCES. */
  write_file(in_dir("master"), "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
  chmod(in_dir("master"), 0644);
  EXPECT(volcrypt_keys_open_file(in_dir("keys"), in_dir("master"), &keys, NULL) == -EACCES);
  chmod(in_dir("master"), 0600);
  EXPECT(volcrypt_keys_open_file(in_dir("keys"), in_dir("master"), &keys, &err) == 0);
  EXPECT(err == NULL);

  char *id = NULL;
  EXPECT(volcrypt_keys_create(keys, 256, "capi-key", &id, &err) == 0);
  EXPECT(id != NULL && strlen(id) == 36);
  EXPECT(volcrypt_keys_create(keys, 100, "bad", &id, NULL) == -EINVAL);

  unsigned char small[8];
  size_t len = sizeof small;
  EXPECT(volcrypt_keys_get(keys, id, small, &len, NULL) == -ERANGE);
  EXPECT(len == 32);
  unsigned char key[64];
  len = sizeof key;
  EXPECT(volcrypt_keys_get(keys, id, key, &len, NULL) == 0);
  EXPECT(len == 32);
  volcrypt_wipe(key, sizeof key);
  len = sizeof key;
  EXPECT(volcrypt_keys_get(keys, "11111111-1111-4111-8111-111111111111", key, &len, NULL) == -ENOENT);
  EXPECT(volcrypt_keys_get(keys, "../etc/passwd", key, &len, NULL) == -EINVAL);
  EXPECT(volcrypt_keys_delete(keys, id, NULL) == 0);
  EXPECT(volcrypt_keys_delete(keys, id, NULL) == -ENOENT);
  volcrypt_free(id);
  volcrypt_keys_destroy(keys);

  /* The fixed key: castellan's all-zeros id. */
  write_file(in_dir("fixed"), "  000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n");
  EXPECT(volcrypt_keys_open_fixed(in_dir("fixed"), &keys, NULL) == 0);
  EXPECT(volcrypt_keys_create(keys, 256, "x", &id, NULL) == 0);
  EXPECT(strcmp(id, "00000000-0000-0000-0000-000000000000") == 0);
  len = sizeof key;
  EXPECT(volcrypt_keys_get(keys, id, key, &len, NULL) == 0);
  EXPECT(len == 32 && key[0] == 0x00 && key[31] == 0x1f);
  volcrypt_free(id);
  volcrypt_keys_destroy(keys);
}

/* A file key manager, an SQLite store and the mapped backend in the test's
 * directory. */
struct file_stack {
  volcrypt_keys_t *keys;
  volcrypt_store_t *store;
  volcrypt_backend_t *mapped;
};

static void open_file_stack(const char *keys_name, const char *db_name,
                            struct file_stack *s) {
  memset(s, 0, sizeof *s);
  EXPECT(volcrypt_keys_open_file(in_dir(keys_name), in_dir("master"), &s->keys, NULL) == 0);
  EXPECT(volcrypt_store_open_sqlite(in_dir(db_name), &s->store, NULL) == 0);
  EXPECT(volcrypt_backend_open_mapped(&s->mapped, NULL) == 0);
}

static void close_file_stack(struct file_stack *s) {
  volcrypt_backend_destroy(s->mapped);
  volcrypt_store_destroy(s->store);
  volcrypt_keys_destroy(s->keys);
}

/* A request for a 16 MiB file volume `id` in the test's directory. */
static volcrypt_create_request_t file_request(const char *id) {
  volcrypt_create_request_t r;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  r.id = id;
  r.path = in_dir(id);
  r.size_bytes = 16u << 20;
  return r;
}

static void test_volumes(void) {
  char *err = NULL, *json = NULL;
  struct file_stack fs;
  open_file_stack("keys", "volumes.db", &fs);
  volcrypt_keys_t *keys = fs.keys;
  volcrypt_store_t *store = fs.store;
  volcrypt_backend_t *mapped = fs.mapped;
  volcrypt_service_t *svc = NULL;

  volcrypt_service_options_t o = {sizeof o, keys, store, mapped, NULL, NULL, "capi"};
  volcrypt_service_options_t short_o = o;
  short_o.struct_size = 4;
  EXPECT(volcrypt_service_create(&short_o, &svc, NULL) == -EINVAL);
  EXPECT(svc == NULL);
  /* A newer caller's struct: larger, its unknown tail zero, is accepted; a
   * set field this library does not know is refused. */
  struct {
    volcrypt_service_options_t known;
    const char *from_the_future;
  } newer;
  memset(&newer, 0, sizeof newer);
  newer.known = o;
  newer.known.struct_size = sizeof newer;
  newer.from_the_future = "x";
  EXPECT(volcrypt_service_create(&newer.known, &svc, &err) == -E2BIG);
  EXPECT(svc == NULL && err != NULL && strstr(err, "does not know") != NULL);
  volcrypt_free(err);
  err = NULL;
  newer.from_the_future = NULL;
  EXPECT(volcrypt_service_create(&newer.known, &svc, NULL) == 0);
  volcrypt_service_destroy(svc);
  svc = NULL;
  EXPECT(volcrypt_service_create(&o, &svc, NULL) == 0);

  volcrypt_create_request_t r = file_request("v1");
  r.format = "luks3";
  EXPECT(volcrypt_volume_create(svc, &r, &json, &err) == -EINVAL);
  EXPECT(json == NULL && err != NULL && strstr(err, "luks3") != NULL);
  volcrypt_free(err);
  err = NULL;
  r.format = NULL;
  /* A size beyond what any volume can hold is -EDOM, never -ERANGE (which
   * would make a binding grow a buffer and retry). */
  r.size_bytes = UINT64_MAX - 511;
  EXPECT(volcrypt_volume_create(svc, &r, &json, &err) == -EDOM);
  EXPECT(json == NULL && err != NULL && strstr(err, "too large") != NULL);
  volcrypt_free(err);
  err = NULL;
  r.size_bytes = 16u << 20;
  EXPECT(volcrypt_volume_create(svc, &r, &json, &err) == 0);
  EXPECT(json != NULL && strstr(json, "\"encryption_key_id\"") != NULL);
  volcrypt_free(json);
  json = NULL;
  EXPECT(volcrypt_volume_create(svc, &r, &json, NULL) == -EEXIST);

  EXPECT(volcrypt_store_volume_json(store, "v1", &json, NULL) == 0);
  EXPECT(strstr(json, "\"status\": \"available\"") != NULL);
  volcrypt_free(json);
  EXPECT(volcrypt_store_volume_json(store, "nope", &json, NULL) == -ENOENT);
  EXPECT(volcrypt_store_list_json(store, &json, NULL) == 0);
  EXPECT(json[0] == '[' && strstr(json, "\"id\":\"v1\"") != NULL);
  volcrypt_free(json);

  int slot = -1;
  EXPECT(volcrypt_volume_verify(svc, "v1", &slot, NULL) == 0 && slot == 0);
  EXPECT(volcrypt_volume_verify(svc, "nope", &slot, NULL) == -ENOENT);

  char *sx = NULL, *dx = NULL;
  unsigned char pass[16];
  size_t len = sizeof pass;
  EXPECT(volcrypt_volume_attach_plan(svc, "v1", NULL, &sx, &dx, pass, &len, NULL) == -ERANGE);
  EXPECT(len == 64 && sx == NULL && dx == NULL);
  unsigned char big[128];
  len = sizeof big;
  EXPECT(volcrypt_volume_attach_plan(svc, "v1", "sdc", &sx, &dx, big, &len, NULL) == 0);
  EXPECT(len == 64 && strstr(sx, "private=\"yes\"") && strstr(dx, "dev=\"sdc\""));
  EXPECT(strstr(sx, (const char *)big) == NULL);
  EXPECT(volcrypt_luks_verify_passphrase(in_dir("v1"), big, len, &slot, NULL) == 0);
  big[0] ^= 1;
  EXPECT(volcrypt_luks_verify_passphrase(in_dir("v1"), big, len, &slot, NULL) == -EPERM);
  volcrypt_wipe(big, sizeof big);
  volcrypt_free(sx);
  volcrypt_free(dx);

  EXPECT(volcrypt_luks_inspect(in_dir("v1"), &json, NULL) == 0);
  EXPECT(strstr(json, "\"payload_bytes\": 16777216") != NULL);
  volcrypt_free(json);
  EXPECT(volcrypt_luks_inspect(in_dir("masterx"), &json, NULL) == -ENOENT);

  EXPECT(volcrypt_volume_extend(svc, "v1", 32u << 20, NULL) == 0);
  EXPECT(volcrypt_volume_extend(svc, "v1", 1u << 20, NULL) == -EINVAL);  /* a shrink */
  /* No attacher configured: a clear refusal, not a crash. */
  EXPECT(volcrypt_volume_attach(svc, "v1", "dom", 1, 0, NULL, &err) == -EBUSY);
  EXPECT(err != NULL && strstr(err, "attacher") != NULL);
  volcrypt_free(err);
  int acted = -1;
  EXPECT(volcrypt_reconcile(svc, 0, &acted, NULL) == 0 && acted == 0);
  EXPECT(volcrypt_volume_delete(svc, "v1", NULL) == 0);
  EXPECT(volcrypt_volume_delete(svc, "v1", NULL) == -ENOENT);
  EXPECT(access(in_dir("v1"), F_OK) != 0);

  /* Not attached: detach says so. */
  EXPECT(volcrypt_volume_create(svc, &r, &json, NULL) == 0);
  volcrypt_free(json);
  json = NULL;
  EXPECT(volcrypt_volume_detach(svc, "v1", NULL) == -EINVAL);
  EXPECT(volcrypt_volume_delete(svc, "v1", NULL) == 0);

  /* RBD: option struct checked, an unreadable ceph.conf is refused. */
  volcrypt_backend_t *rbd = NULL;
  volcrypt_rbd_options_t ro;
  memset(&ro, 0, sizeof ro);
  ro.struct_size = 8;
  EXPECT(volcrypt_backend_open_rbd(&ro, &rbd, NULL) == -EINVAL);
  ro.struct_size = sizeof ro;
  ro.ceph_conf = "/nonexistent/ceph.conf";
#if VOLCRYPT_TEST_HAVE_RBD
  EXPECT(volcrypt_backend_open_rbd(&ro, &rbd, &err) < 0);
  EXPECT(rbd == NULL && err != NULL && strstr(err, "/nonexistent/ceph.conf") != NULL);
#else
  /* Built without Ceph (-Drbd=disabled): the same call, the ABI unchanged. */
  EXPECT(volcrypt_backend_open_rbd(&ro, &rbd, &err) == -ENOTSUP);
  EXPECT(rbd == NULL && err != NULL && strstr(err, "-Drbd=enabled") != NULL);
#endif
  volcrypt_free(err);
  err = NULL;
  EXPECT(volcrypt_backend_open_rbd(NULL, &rbd, NULL) == -EINVAL);

  EXPECT(volcrypt_attacher_connect("qemu:///system?socket=/nonexistent/sock", NULL, NULL) == -EINVAL);
  volcrypt_attacher_t *a = NULL;
#if VOLCRYPT_TEST_HAVE_LIBVIRT
  EXPECT(volcrypt_attacher_connect("qemu:///system?socket=/nonexistent/sock", &a, NULL) < 0);
  EXPECT(a == NULL);
#else
  EXPECT(volcrypt_attacher_connect("qemu:///system?socket=/nonexistent/sock", &a, &err) ==
         -ENOTSUP);
  EXPECT(a == NULL && err != NULL && strstr(err, "-Dlibvirt=enabled") != NULL);
  volcrypt_free(err);
  err = NULL;
#endif

  volcrypt_service_destroy(svc);
  close_file_stack(&fs);
}

static void count_item(void *context, const char *item_json, int done, int total) {
  int *seen = (int *)context;
  if (strstr(item_json, "\"kind\":\"volume\"") != NULL && done <= total) ++*seen;
}

static void test_migrate(void) {
  char *err = NULL, *json = NULL;
  volcrypt_keys_t *fixed = NULL, *dest = NULL;
  volcrypt_store_t *store = NULL;
  volcrypt_backend_t *mapped = NULL;
  volcrypt_service_t *svc = NULL;
  write_file(in_dir("fixed.hex"),
             "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
  EXPECT(volcrypt_keys_open_fixed(in_dir("fixed.hex"), &fixed, NULL) == 0);
  EXPECT(volcrypt_keys_open_file(in_dir("dest-keys"), in_dir("master"), &dest, NULL) == 0);
  EXPECT(volcrypt_store_open_sqlite(in_dir("migrate.db"), &store, NULL) == 0);
  EXPECT(volcrypt_backend_open_mapped(&mapped, NULL) == 0);
  volcrypt_service_options_t o = {sizeof o, fixed, store, mapped, NULL, NULL, "host-m"};
  EXPECT(volcrypt_service_create(&o, &svc, NULL) == 0);
  volcrypt_create_request_t r;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  r.size_bytes = 1u << 20;
  r.id = "m1";
  r.path = in_dir("m1");
  EXPECT(volcrypt_volume_create(svc, &r, &json, NULL) == 0);
  EXPECT(json != NULL && strstr(json, "00000000-0000-0000-0000-000000000000") != NULL);
  volcrypt_free(json);
  r.id = "m2";
  r.path = in_dir("m2");
  EXPECT(volcrypt_volume_create(svc, &r, &json, NULL) == 0);
  volcrypt_free(json);
  json = NULL;

  volcrypt_migrate_options_t m;
  memset(&m, 0, sizeof m);
  m.struct_size = 4;
  EXPECT(volcrypt_keys_migrate(store, fixed, dest, &m, &json, NULL) == -EINVAL);
  m.struct_size = sizeof m;
  /* No host: this machine's, which holds nothing here. */
  EXPECT(volcrypt_keys_migrate(store, fixed, dest, &m, &json, &err) == 0);
  EXPECT(json != NULL && strstr(json, "no volumes or backups") != NULL);
  volcrypt_free(json);
  json = NULL;
  m.host = "host-m";
  m.dry_run = 1;
  EXPECT(volcrypt_keys_migrate(store, fixed, dest, &m, &json, NULL) == 0);
  EXPECT(json != NULL && strstr(json, "\"would-migrate\"") != NULL &&
         strstr(json, "\"volumes_remaining\":2") != NULL);
  volcrypt_free(json);
  int seen = 0;
  m.dry_run = 0;
  m.on_item = count_item;
  m.context = &seen;
  EXPECT(volcrypt_keys_migrate(store, fixed, dest, &m, &json, NULL) == 0);
  EXPECT(seen == 2);
  EXPECT(json != NULL && strstr(json, "\"migrated\":2") != NULL &&
         strstr(json, "\"volumes_remaining\":0") != NULL);
  volcrypt_free(json);
  /* No fixed key configured: cinder's decision, nothing touched. */
  EXPECT(volcrypt_keys_migrate(store, NULL, dest, &m, &json, NULL) == 0);
  EXPECT(json != NULL && strstr(json, "fixed_key is not in use") != NULL);
  volcrypt_free(json);
  /* The volumes now open with the destination's keys. */
  volcrypt_service_t *after = NULL;
  volcrypt_service_options_t o2 = {sizeof o2, dest, store, mapped, NULL, NULL, "host-m"};
  EXPECT(volcrypt_service_create(&o2, &after, NULL) == 0);
  int slot = -1;
  EXPECT(volcrypt_volume_verify(after, "m1", &slot, NULL) == 0 && slot >= 0);
  volcrypt_service_destroy(after);
  volcrypt_service_destroy(svc);
  volcrypt_backend_destroy(mapped);
  volcrypt_store_destroy(store);
  volcrypt_keys_destroy(dest);
  volcrypt_keys_destroy(fixed);
}

static void count_rotated(void *context, const char *item_json, int done, int total) {
  int *seen = (int *)context;
  if (strstr(item_json, "\"outcome\":\"rotated\"") != NULL && done <= total) ++*seen;
}

static void test_rekey(void) {
  char *err = NULL, *json = NULL, *report = NULL;
  volcrypt_keys_t *keys = NULL;
  volcrypt_store_t *store = NULL;
  volcrypt_backend_t *mapped = NULL;
  volcrypt_service_t *svc = NULL;
  EXPECT(volcrypt_keys_open_file(in_dir("rk-keys"), in_dir("master"), &keys, NULL) == 0);
  EXPECT(volcrypt_store_open_sqlite(in_dir("rekey.db"), &store, NULL) == 0);
  EXPECT(volcrypt_backend_open_mapped(&mapped, NULL) == 0);
  volcrypt_service_options_t o = {sizeof o, keys, store, mapped, NULL, NULL, "host-r"};
  EXPECT(volcrypt_service_create(&o, &svc, NULL) == 0);
  volcrypt_create_request_t r;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  r.size_bytes = 1u << 20;
  const char *ids[] = {"r1", "r2", "r3"};
  for (int i = 0; i < 3; ++i) {
    r.id = ids[i];
    r.path = in_dir(ids[i]);
    EXPECT(volcrypt_volume_create(svc, &r, &json, NULL) == 0);
    volcrypt_free(json);
    json = NULL;
  }
  EXPECT(volcrypt_store_volume_json(store, "r1", &json, NULL) == 0);
  char before[4096];
  snprintf(before, sizeof before, "%s", json);
  volcrypt_free(json);
  json = NULL;

  EXPECT(volcrypt_volume_rekey(svc, "r1", &json, &err) == 0);
  EXPECT(json != NULL && strstr(json, "\"status\": \"available\"") != NULL);
  EXPECT(json != NULL && strcmp(json, before) != 0);
  volcrypt_free(json);
  json = NULL;
  int slot = -1;
  EXPECT(volcrypt_volume_verify(svc, "r1", &slot, NULL) == 0 && slot >= 0);
  EXPECT(volcrypt_volume_rekey(svc, "r1", NULL, NULL) == 0);
  EXPECT(volcrypt_volume_rekey(svc, "nope", &json, &err) == -ENOENT);
  EXPECT(json == NULL && err != NULL && strstr(err, "nope") != NULL);
  volcrypt_free(err);
  err = NULL;
  EXPECT(volcrypt_volume_rekey(svc, "bad\nid", NULL, NULL) == -EINVAL);
  EXPECT(volcrypt_volume_rekey(NULL, "r1", NULL, NULL) == -EINVAL);

  /* The fleet: every key made before the cutoff, once. */
  volcrypt_rotate_options_t ro;
  memset(&ro, 0, sizeof ro);
  ro.struct_size = 4;
  EXPECT(volcrypt_keys_rotate(svc, store, &ro, &report, NULL) == -EINVAL);
  EXPECT(report == NULL);
  ro.struct_size = sizeof ro;
  ro.key_created_before = 4102444800; /* 2100: every key so far */
  ro.dry_run = 1;
  EXPECT(volcrypt_keys_rotate(svc, store, &ro, &report, NULL) == 0);
  EXPECT(report != NULL && strstr(report, "would-rotate") != NULL &&
         strstr(report, "\"rotated\":0") != NULL);
  volcrypt_free(report);
  report = NULL;
  int rotated = 0;
  ro.dry_run = 0;
  ro.on_item = count_rotated;
  ro.context = &rotated;
  EXPECT(volcrypt_keys_rotate(svc, store, &ro, &report, &err) == 0);
  EXPECT(rotated == 3);
  EXPECT(report != NULL && strstr(report, "\"rotated\":3") != NULL);
  volcrypt_free(report);
  report = NULL;
  /* Rerun with the same cutoff after the keys were renewed: nothing left. */
  ro.key_created_before = 1;
  rotated = 0;
  EXPECT(volcrypt_keys_rotate(svc, store, &ro, &report, NULL) == 0);
  EXPECT(rotated == 0 && strstr(report, "\"items\":[]") != NULL);
  volcrypt_free(report);

  /* Live migration: what is checked before libvirt (the move itself runs
   * against two daemons in tests/ceph/live_migration_test.cc). */
  volcrypt_domain_migrate_options_t dm;
  memset(&dm, 0, sizeof dm);
  dm.struct_size = sizeof dm;
  dm.domain = "d";
  err = NULL;
  EXPECT(volcrypt_domain_migrate(svc, NULL, &dm, &json, &err) == -EINVAL);
  EXPECT(json == NULL && err != NULL && strstr(err, "destination") != NULL);
  volcrypt_free(err);
  EXPECT(volcrypt_domain_migrate(NULL, NULL, NULL, NULL, NULL) == -EINVAL);

  volcrypt_service_destroy(svc);
  volcrypt_backend_destroy(mapped);
  volcrypt_store_destroy(store);
  volcrypt_keys_destroy(keys);
}

static void test_barbican_and_postgres_options(void) {
  char *err = NULL;
  volcrypt_keys_t *keys = NULL;
  volcrypt_barbican_options_t b;
  memset(&b, 0, sizeof b);
  b.struct_size = 4;
  EXPECT(volcrypt_keys_open_barbican(&b, &keys, NULL) == -EINVAL);
  b.struct_size = sizeof b;
  b.endpoint = "ftp://barbican";
  b.project_id = "p";
#if !VOLCRYPT_TEST_HAVE_BARBICAN
  /* Built without libcurl (-Dbarbican=disabled). */
  EXPECT(volcrypt_keys_open_barbican(&b, &keys, &err) == -ENOTSUP);
  EXPECT(keys == NULL && err != NULL && strstr(err, "-Dbarbican=enabled") != NULL);
  volcrypt_free(err);
  err = NULL;
#else
  EXPECT(volcrypt_keys_open_barbican(&b, &keys, &err) == -EINVAL);
  EXPECT(keys == NULL && err != NULL && strstr(err, "ftp://barbican") != NULL);
  volcrypt_free(err);
  b.endpoint = "http://127.0.0.1:9311";
  b.project_id = NULL;
  b.auth_url = "http://127.0.0.1:5000/v3";
  EXPECT(volcrypt_keys_open_barbican(&b, &keys, NULL) == -EINVAL); /* no credentials */
  b.username = "u";
  b.password = "pw";
  b.project_name = "p";
  EXPECT(volcrypt_keys_open_barbican(&b, &keys, NULL) == 0); /* no request yet */
  volcrypt_keys_destroy(keys);
#endif
  volcrypt_store_t *store = NULL;
  EXPECT(volcrypt_store_open_postgres(NULL, &store, NULL) == -EINVAL);
#if VOLCRYPT_TEST_HAVE_POSTGRES
  EXPECT(volcrypt_store_open_postgres(
             "host=127.0.0.1 port=1 connect_timeout=2 password=pw-4711", &store, &err) < 0);
#else
  /* Built without libpq (-Dpostgres=disabled). */
  EXPECT(volcrypt_store_open_postgres(
             "host=127.0.0.1 port=1 connect_timeout=2 password=pw-4711", &store, &err) ==
         -ENOTSUP);
  EXPECT(err != NULL && strstr(err, "-Dpostgres=enabled") != NULL);
#endif
  EXPECT(store == NULL && err != NULL && strstr(err, "4711") == NULL);
  volcrypt_free(err);
}

/* The key id in a record's JSON ("encryption_key_id": "..."), into `out`. */
static void key_id_of(const char *json, char *out, size_t cap) {
  out[0] = '\0';
  const char *at = json ? strstr(json, "\"encryption_key_id\": \"") : NULL;
  if (at == NULL) return;
  at += strlen("\"encryption_key_id\": \"");
  size_t n = 0;
  while (at[n] != '"' && at[n] != '\0' && n + 1 < cap) ++n;
  memcpy(out, at, n);
  out[n] = '\0';
}

static void test_manage(void) {
  char *err = NULL, *json = NULL, *id = NULL;
  volcrypt_keys_t *keys = NULL;
  volcrypt_store_t *store = NULL;
  volcrypt_backend_t *mapped = NULL;
  volcrypt_service_t *svc = NULL;
  EXPECT(volcrypt_keys_open_file(in_dir("m-keys"), in_dir("master"), &keys, NULL) == 0);
  EXPECT(volcrypt_store_open_sqlite(in_dir("m.db"), &store, NULL) == 0);
  EXPECT(volcrypt_backend_open_mapped(&mapped, NULL) == 0);
  volcrypt_service_options_t o = {sizeof o, keys, store, mapped, NULL, NULL, "capi"};
  EXPECT(volcrypt_service_create(&o, &svc, NULL) == 0);

  /* keys_store: the given bytes, under a new id. */
  unsigned char bytes[32], back[64];
  for (size_t i = 0; i < sizeof bytes; ++i) bytes[i] = (unsigned char)(i * 7 + 1);
  EXPECT(volcrypt_keys_store(keys, bytes, sizeof bytes, "given", &id, &err) == 0);
  size_t len = sizeof back;
  EXPECT(id != NULL && volcrypt_keys_get(keys, id, back, &len, NULL) == 0);
  EXPECT(len == sizeof bytes && memcmp(back, bytes, len) == 0);
  volcrypt_free(id);
  id = (char *)0x1;
  EXPECT(volcrypt_keys_store(keys, bytes, 8, "short", &id, &err) == -EINVAL);
  EXPECT(id == (char *)0x1 && err != NULL);
  volcrypt_free(err);
  err = NULL;
  EXPECT(volcrypt_keys_store(keys, NULL, 32, "null", &id, NULL) == -EINVAL);

  /* A volume made, then forgotten: file and key stay; managed back. */
  volcrypt_create_request_t c;
  memset(&c, 0, sizeof c);
  c.struct_size = sizeof c;
  c.id = "made";
  c.path = in_dir("made");
  c.size_bytes = 16u << 20;
  EXPECT(volcrypt_volume_create(svc, &c, &json, NULL) == 0);
  char key_id[64];
  key_id_of(json, key_id, sizeof key_id);
  volcrypt_free(json);
  json = NULL;
  EXPECT(volcrypt_volume_unmanage(svc, "made", NULL) == 0);
  EXPECT(volcrypt_volume_unmanage(svc, "made", NULL) == -ENOENT);
  EXPECT(access(in_dir("made"), F_OK) == 0);

  volcrypt_manage_request_t m;
  memset(&m, 0, sizeof m);
  m.struct_size = sizeof m;
  m.id = "adopted";
  m.path = in_dir("made");
  EXPECT(volcrypt_volume_manage(svc, &m, &json, &err) == -EINVAL); /* no key given */
  volcrypt_free(err);
  err = NULL;
  m.key = bytes; /* not this volume's key */
  m.key_len = sizeof bytes;
  EXPECT(volcrypt_volume_manage(svc, &m, &json, &err) == -EPERM);
  EXPECT(json == NULL && err != NULL && strstr(err, "keyslot") != NULL);
  volcrypt_free(err);
  err = NULL;
  m.key = NULL;
  m.key_len = 0;
  m.key_id = key_id;
  m.size_bytes = 1u << 20; /* not what the header leaves */
  EXPECT(volcrypt_volume_manage(svc, &m, &json, NULL) == -EINVAL);
  m.size_bytes = 16u << 20;
  EXPECT(volcrypt_volume_manage(svc, &m, &json, &err) == 0);
  EXPECT(json != NULL && strstr(json, key_id) != NULL);
  volcrypt_free(json);
  json = NULL;
  int slot = -1;
  EXPECT(volcrypt_volume_verify(svc, "adopted", &slot, NULL) == 0 && slot == 0);
  m.id = "again";
  EXPECT(volcrypt_volume_manage(svc, &m, &json, NULL) == -EEXIST);
  m.struct_size = 8;
  EXPECT(volcrypt_volume_manage(svc, &m, &json, NULL) == -EINVAL);
  EXPECT(volcrypt_volume_manage(NULL, &m, &json, NULL) == -EINVAL);
  EXPECT(volcrypt_volume_delete(svc, "adopted", NULL) == 0);

  volcrypt_service_destroy(svc);
  volcrypt_backend_destroy(mapped);
  volcrypt_store_destroy(store);
  volcrypt_keys_destroy(keys);
}

/* Attach options, the passphrase handoff through a file descriptor, and the
 * snapshot calls' refusal for a mapped volume. */
static void test_attach_options_and_handoff(void) {
  char *err = NULL, *json = NULL, *sx = NULL, *dx = NULL;
  struct file_stack fs;
  open_file_stack("keys2", "volumes2.db", &fs);
  volcrypt_service_t *svc = NULL;
  volcrypt_service_options_t o = {sizeof o, fs.keys, fs.store, fs.mapped, NULL, NULL, "capi"};
  EXPECT(volcrypt_service_create(&o, &svc, NULL) == 0);
  volcrypt_create_request_t r = file_request("h1");
  EXPECT(volcrypt_volume_create(svc, &r, &json, NULL) == 0);
  volcrypt_free(json);
  json = NULL;

  volcrypt_attach_options_t ao;
  memset(&ao, 0, sizeof ao);
  ao.struct_size = sizeof ao;
  ao.target_dev = "vdc";
  ao.target_bus = "virtio";
  ao.ephemeral_secret = 1;
  unsigned char pass[128];
  size_t len = sizeof pass;
  EXPECT(volcrypt_volume_attach_plan_with_options(svc, "h1", &ao, &sx, &dx, pass, &len,
                                                  NULL) == 0);
  EXPECT(strstr(sx, "ephemeral=\"yes\"") != NULL);
  EXPECT(strstr(dx, "bus=\"virtio\"") != NULL && strstr(dx, "dev=\"vdc\"") != NULL);
  volcrypt_free(sx);
  volcrypt_free(dx);
  EXPECT(volcrypt_volume_attach_plan_with_options(svc, "h1", NULL, &sx, &dx, pass, &len,
                                                  NULL) == 0);
  EXPECT(strstr(sx, "ephemeral=\"no\"") != NULL && strstr(dx, "bus=\"scsi\"") != NULL);
  volcrypt_free(sx);
  volcrypt_free(dx);

  /* The handoff writes exactly the passphrase the plan gives. */
  int fds[2];
  EXPECT(pipe(fds) == 0);
  EXPECT(volcrypt_volume_write_passphrase(svc, "h1", fds[1], NULL) == 0);
  close(fds[1]);
  unsigned char got[128];
  ssize_t n = read(fds[0], got, sizeof got);
  close(fds[0]);
  EXPECT(n == (ssize_t)len && memcmp(got, pass, len) == 0);
  volcrypt_wipe(got, sizeof got);
  volcrypt_wipe(pass, sizeof pass);
  /* A reader that went away: -EPIPE, and this process is not killed by SIGPIPE. */
  EXPECT(pipe(fds) == 0);
  close(fds[0]);
  EXPECT(volcrypt_volume_write_passphrase(svc, "h1", fds[1], &err) == -EPIPE);
  EXPECT(err != NULL && strstr(err, "h1") != NULL);
  volcrypt_free(err);
  err = NULL;
  close(fds[1]);
  EXPECT(volcrypt_volume_write_passphrase(svc, "h1", -1, NULL) == -EBADF);
  EXPECT(volcrypt_volume_write_passphrase(svc, "nope", 1, NULL) == -ENOENT);

  /* Snapshots are for rbd volumes. */
  EXPECT(volcrypt_volume_snapshot(svc, "h1", "s1", &json, &err) == -ENOTSUP);
  EXPECT(json == NULL && err != NULL);
  volcrypt_free(err);
  EXPECT(volcrypt_snapshot_delete(svc, "s1", NULL) == -ENOENT);
  EXPECT(volcrypt_volume_clone(svc, "s1", "c1", "rbd", "c1", &json, NULL) == -ENOENT);
  EXPECT(volcrypt_volume_clone(svc, "s1", "c1", NULL, "c1", &json, NULL) == -EINVAL);

  EXPECT(volcrypt_volume_delete(svc, "h1", NULL) == 0);
  volcrypt_service_destroy(svc);
  close_file_stack(&fs);
}

int main(void) {
  if (mkdtemp(dir) == NULL) return 1;
  test_basics();
  test_keys();
  test_volumes();
  test_manage();
  test_attach_options_and_handoff();
  test_migrate();
  test_rekey();
  test_barbican_and_postgres_options();
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) ++failures;
  printf("%s\n", failures == 0 ? "C ABI: all checks passed" : "C ABI: FAILED");
  return failures == 0 ? 0 : 1;
}
