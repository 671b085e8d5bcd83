// The C side of MigrationOptions.OnItem: a C function pointer that calls
// the exported Go function (cgo forbids definitions next to //export).
#include <volcrypt.h>

#include "_cgo_export.h"

static void on_item(void *context, const char *item_json, int done, int total) {
  goMigrationItem(context, (char *)item_json, done, total);
}

void volcrypt_go_set_on_item(volcrypt_migrate_options_t *o) { o->on_item = on_item; }
