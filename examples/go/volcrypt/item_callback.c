// The C side of the per-item progress callbacks (MigrationOptions.OnItem,
// RotationOptions.OnItem): a C function pointer that calls the exported Go
// function (cgo forbids definitions next to //export).
#include <volcrypt.h>

#include "_cgo_export.h"

static void on_item(void *context, const char *item_json, int done, int total) {
  goOnItem(context, (char *)item_json, done, total);
}

void volcrypt_go_set_on_migrate_item(volcrypt_migrate_options_t *o) { o->on_item = on_item; }

void volcrypt_go_set_on_rotate_item(volcrypt_rotate_options_t *o) { o->on_item = on_item; }
