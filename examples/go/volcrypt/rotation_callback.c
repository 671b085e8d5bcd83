// The C side of RotationOptions.OnItem (cgo forbids definitions next to
// //export).
#include <volcrypt.h>

#include "_cgo_export.h"

static void on_rotation_item(void *context, const char *item_json, int done, int total) {
  goRotationItem(context, (char *)item_json, done, total);
}

void volcrypt_go_set_on_rotation_item(volcrypt_rotate_options_t *o) {
  o->on_item = on_rotation_item;
}
