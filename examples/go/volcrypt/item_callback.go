package volcrypt

/*
#include <stdlib.h>
#include <volcrypt.h>
*/
import "C"

import (
	"encoding/json"
	"runtime/cgo"
	"unsafe"
)

// itemCallback carries a Go progress callback through a C context pointer,
// for the C calls that report each item as JSON (migration, rotation).
type itemCallback struct {
	fn     func(itemJSON string, done, total int)
	panic  interface{}
	handle *cgo.Handle // in C memory: C keeps the context pointer
}

// newItemCallback wraps fn, which decodes an item into T and is called
// with it; nil fn gives nil. Call free when the C call has returned.
func newItemCallback[T any](fn func(item T, done, total int)) *itemCallback {
	if fn == nil {
		return nil
	}
	cb := &itemCallback{fn: func(itemJSON string, done, total int) {
		var item T
		if json.Unmarshal([]byte(itemJSON), &item) == nil {
			fn(item, done, total)
		}
	}}
	cb.handle = (*cgo.Handle)(C.malloc(C.size_t(unsafe.Sizeof(cgo.Handle(0)))))
	*cb.handle = cgo.NewHandle(cb)
	return cb
}

func (cb *itemCallback) context() unsafe.Pointer { return unsafe.Pointer(cb.handle) }

func (cb *itemCallback) free() {
	cb.handle.Delete()
	C.free(unsafe.Pointer(cb.handle))
}

// rethrow re-raises, once the C call has returned, a panic the callback
// raised; the C call's own results are freed first.
func (cb *itemCallback) rethrow(rc C.int, out, errmsg *C.char) {
	if cb == nil || cb.panic == nil {
		return
	}
	if rc == 0 {
		C.volcrypt_free(unsafe.Pointer(out))
	}
	C.volcrypt_free(unsafe.Pointer(errmsg))
	panic(cb.panic)
}

//export goOnItem
func goOnItem(context unsafe.Pointer, item *C.char, done, total C.int) {
	cb := (*(*cgo.Handle)(context)).Value().(*itemCallback)
	if cb.panic != nil {
		return
	}
	// A panic must not unwind through the C++ frames below this one.
	defer func() {
		if r := recover(); r != nil {
			cb.panic = r
		}
	}()
	cb.fn(C.GoString(item), int(done), int(total))
}
