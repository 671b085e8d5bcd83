package volcrypt

/*
#include <stdint.h>
#include <stdlib.h>
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// progressCallback carries ConvertOptions.OnProgress through a C context
// pointer, like itemCallback.
type progressCallback struct {
	fn     func(done, total uint64)
	panic  interface{}
	handle *cgo.Handle // in C memory: C keeps the context pointer
}

func newProgressCallback(fn func(done, total uint64)) *progressCallback {
	if fn == nil {
		return nil
	}
	cb := &progressCallback{fn: fn}
	cb.handle = (*cgo.Handle)(C.malloc(C.size_t(unsafe.Sizeof(cgo.Handle(0)))))
	*cb.handle = cgo.NewHandle(cb)
	return cb
}

func (cb *progressCallback) context() unsafe.Pointer { return unsafe.Pointer(cb.handle) }

func (cb *progressCallback) free() {
	cb.handle.Delete()
	C.free(unsafe.Pointer(cb.handle))
}

//export goOnConvertProgress
func goOnConvertProgress(context unsafe.Pointer, done, total C.uint64_t) {
	cb := (*(*cgo.Handle)(context)).Value().(*progressCallback)
	if cb.panic != nil {
		return
	}
	// A panic must not unwind through the C++ frames below this one.
	defer func() {
		if r := recover(); r != nil {
			cb.panic = r
		}
	}()
	cb.fn(uint64(done), uint64(total))
}
