/* A caller compiled against the first published volcrypt.h (0.1, copied in
 * tests/capi/published-0.1/) runs against today's library: its smaller
 * option structs are accepted and the fields it did not know default.
 * Built with only that header on its include path. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "volcrypt.h"

#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      return 1;                                                         \
    }                                                                   \
  } while (0)

int main(void) {
  char dir[] = "/tmp/volcrypt-oldabi-XXXXXX";
  char path[4200], keys_dir[4200], master[4200], db[4200];
  if (mkdtemp(dir) == NULL) return 1;
  snprintf(path, sizeof path, "%s/v1", dir);
  snprintf(keys_dir, sizeof keys_dir, "%s/keys", dir);
  snprintf(master, sizeof master, "%s/master", dir);
  snprintf(db, sizeof db, "%s/volumes.db", dir);
  FILE *f = fopen(master, "w");
  fputs("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", f);
  fclose(f);
  chmod(master, 0600);

  volcrypt_keys_t *keys = NULL;
  volcrypt_store_t *store = NULL;
  volcrypt_backend_t *mapped = NULL;
  volcrypt_service_t *svc = NULL;
  char *json = NULL, *err = NULL;
  CHECK(volcrypt_keys_open_file(keys_dir, master, &keys, NULL) == 0);
  CHECK(volcrypt_store_open_sqlite(db, &store, NULL) == 0);
  CHECK(volcrypt_backend_open_mapped(&mapped, NULL) == 0);
  volcrypt_service_options_t o = {sizeof o, keys, store, mapped, NULL, NULL, "old"};
  CHECK(volcrypt_service_create(&o, &svc, NULL) == 0);
  volcrypt_create_request_t r;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r; /* 0.1's size, smaller than today's */
  r.id = "v1";
  r.path = path;
  r.size_bytes = 16u << 20;
  if (volcrypt_volume_create(svc, &r, &json, &err) != 0) {
    fprintf(stderr, "create with 0.1's struct: %s\n", err ? err : "?");
    return 1;
  }
  CHECK(strstr(json, "\"status\": \"available\"") != NULL);
  volcrypt_free(json);
  int slot = -1;
  CHECK(volcrypt_volume_verify(svc, "v1", &slot, NULL) == 0 && slot == 0);
  CHECK(volcrypt_volume_delete(svc, "v1", NULL) == 0);
  volcrypt_service_destroy(svc);
  volcrypt_backend_destroy(mapped);
  volcrypt_store_destroy(store);
  volcrypt_keys_destroy(keys);
  char cmd[4300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK(system(cmd) == 0);
  printf("a 0.1 caller works against volcrypt %s\n", volcrypt_version());
  return 0;
}
