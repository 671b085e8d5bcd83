/* The shared scenario, in C with only <volcrypt.h> and
 * `pkg-config --cflags --libs volcrypt`: create an encrypted file volume,
 * build its attach plan, verify the passphrase against the header, delete.
 *   volcrypt_example STATE_DIR
 * Exit 0 when every step worked. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <volcrypt.h>

static int check(int r, const char *what, char *err) {
  if (r < 0) {
    fprintf(stderr, "%s failed (%d): %s\n", what, r, err ? err : "");
    volcrypt_free(err);
    exit(1);
  }
  return r;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s STATE_DIR\n", argv[0]);
    return 2;
  }
  char keys_dir[4096], master[4096], db[4096], vol[4096];
  snprintf(keys_dir, sizeof keys_dir, "%s/keys", argv[1]);
  snprintf(master, sizeof master, "%s/master.key", argv[1]);
  snprintf(db, sizeof db, "%s/volumes.db", argv[1]);
  snprintf(vol, sizeof vol, "%s/volume-c1", argv[1]);

  /* A master key file: 64 hex characters, mode 0600. */
  FILE *f = fopen(master, "w");
  if (f == NULL) return 1;
  fputs("0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0\n", f);
  fclose(f);
  chmod(master, 0600);

  char *err = NULL;
  volcrypt_keys_t *keys = NULL;
  volcrypt_store_t *store = NULL;
  volcrypt_backend_t *mapped = NULL;
  volcrypt_service_t *svc = NULL;
  check(volcrypt_keys_open_file(keys_dir, master, &keys, &err), "open keys", err);
  check(volcrypt_store_open_sqlite(db, &store, &err), "open store", err);
  check(volcrypt_backend_open_mapped(&mapped, &err), "open backend", err);
  volcrypt_service_options_t o = {sizeof o, keys, store, mapped, NULL, NULL, "example"};
  check(volcrypt_service_create(&o, &svc, &err), "create service", err);

  volcrypt_create_request_t req;
  memset(&req, 0, sizeof req);
  req.struct_size = sizeof req;
  req.id = "c1";
  req.path = vol;
  req.size_bytes = 16u << 20;
  char *json = NULL;
  check(volcrypt_volume_create(svc, &req, &json, &err), "create volume", err);
  printf("created: %s\n", json);
  volcrypt_free(json);

  char *secret_xml = NULL, *disk_xml = NULL;
  unsigned char pass[128];
  size_t len = sizeof pass;
  check(volcrypt_volume_attach_plan(svc, "c1", "sdb", &secret_xml, &disk_xml, pass, &len, &err),
        "attach plan", err);
  printf("secret XML:\n%s\ndisk XML:\n%s\n", secret_xml, disk_xml);
  volcrypt_free(secret_xml);
  volcrypt_free(disk_xml);

  int slot = -1;
  check(volcrypt_luks_verify_passphrase(vol, pass, len, &slot, &err), "verify", err);
  volcrypt_wipe(pass, sizeof pass);
  printf("the key manager's passphrase unlocks keyslot %d\n", slot);

  check(volcrypt_volume_delete(svc, "c1", &err), "delete", err);
  printf("deleted\n");
  volcrypt_service_destroy(svc);
  volcrypt_backend_destroy(mapped);
  volcrypt_store_destroy(store);
  volcrypt_keys_destroy(keys);
  return 0;
}
