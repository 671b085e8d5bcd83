package volcrypt

/*
#include <stdint.h>
#include <stdlib.h>
#include <volcrypt.h>

// Defined in conversion_callback.c: forwards to goOnConvertProgress.
void volcrypt_go_set_on_convert_progress(volcrypt_convert_options_t *o);
*/
import "C"

import (
	"context"
	"unsafe"
)

// ConvertOptions says where ConvertVolume copies a volume to.
type ConvertOptions struct {
	Reencrypt  bool   // false: a plain volume becomes encrypted
	Path       string // the target: a host path, or
	Pool       string // an rbd pool and image
	Image      string
	Format     string // "luks1" (empty) or "luks2"
	Engine     string // "qemu" (empty) or "librbd"
	KeyBits    int    // AES strength; 0: 256
	SectorSize uint32 // 0: 512
	KeepSource bool   // keep the old location and its key
	// OnProgress, if set, is called with payload bytes done and the total
	// (on the calling goroutine's thread). A panic in it stops further
	// calls and is re-raised once the conversion returns.
	OnProgress func(done, total uint64)
	// Bandwidth caps the copy in bytes per second (0: unlimited); an
	// online conversion passes it to libvirt's block copy.
	Bandwidth uint64
}

// ConvertVolume copies volume id into a new volume under a new volume key,
// verifies it, switches the record to it and deletes the old location and
// key (unless o.KeepSource); it returns the record afterwards. After a
// kill, a rerun continues and Reconcile goes back or finishes. ErrNotFound:
// no such volume; ErrBusy: not available; syscall.EEXIST: the target
// exists or is recorded; syscall.EINVAL: bad options.
func (s *Service) ConvertVolume(ctx context.Context, id string, o ConvertOptions) (_ *Volume, err error) {
	const op = "volume_convert"
	defer catchNUL(op, &err)
	if err := notStarted(ctx, op); err != nil {
		return nil, err
	}
	sp, err := s.acquire(op)
	if err != nil {
		return nil, err
	}
	defer s.release()
	var cs cstrings
	defer cs.free()
	var co C.volcrypt_convert_options_t
	co.struct_size = C.size_t(unsafe.Sizeof(co))
	co.reencrypt = cbool(o.Reencrypt)
	co.path = cs.str(o.Path)
	co.pool = cs.str(o.Pool)
	co.image = cs.str(o.Image)
	co.format = cs.str(o.Format)
	co.engine = cs.str(o.Engine)
	co.key_bits = C.int(o.KeyBits)
	co.sector_size = C.uint32_t(o.SectorSize)
	co.keep_source = cbool(o.KeepSource)
	co.bandwidth = C.uint64_t(o.Bandwidth)
	cb := newProgressCallback(o.OnProgress)
	if cb != nil {
		defer cb.free()
		co.context = cb.context()
		C.volcrypt_go_set_on_convert_progress(&co)
	}
	var out, errmsg *C.char
	rc := C.volcrypt_volume_convert((*C.volcrypt_service_t)(sp), cs.str(id), &co, &out, &errmsg)
	if cb != nil && cb.panic != nil {
		if rc == 0 {
			C.volcrypt_free(unsafe.Pointer(out))
		}
		C.volcrypt_free(unsafe.Pointer(errmsg))
		panic(cb.panic)
	}
	if err := check(rc, errmsg, op); err != nil {
		return nil, err
	}
	v := &Volume{}
	if err := takeJSON(op, out, v); err != nil {
		return nil, err
	}
	return v, nil
}
