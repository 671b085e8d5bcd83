// The C side of ConvertOptions.OnProgress: a C function pointer that calls
// the exported Go function (cgo forbids definitions next to //export).
#include <volcrypt.h>

#include "_cgo_export.h"

static void on_progress(void *context, uint64_t done, uint64_t total) {
  goOnConvertProgress(context, done, total);
}

void volcrypt_go_set_on_convert_progress(volcrypt_convert_options_t *o) {
  o->on_progress = on_progress;
}
