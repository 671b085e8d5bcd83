package volcrypt

/*
#cgo pkg-config: volcrypt
#include <stdlib.h>
#include <volcrypt.h>
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Version returns the version of the libvolcrypt loaded at run time.
func Version() string { return C.GoString(C.volcrypt_version()) }

// HeaderVersion is the version of the volcrypt.h this package was compiled
// against; a program may compare it with Version().
const HeaderVersion = C.VOLCRYPT_VERSION_STRING

// handle owns one C handle. Calls hold its read lock for their duration,
// so any number run at once (the C library allows it) and Close, which
// takes the write lock, waits for them and never frees a handle in use.
// borrowers counts open Services that hold the C pointer: the C library
// requires the borrowed handle to outlive them.
type handle struct {
	mu        sync.RWMutex
	ptr       unsafe.Pointer // nil once closed
	borrowers int32          // atomic; changed under mu's read lock or without mu
	kind      string         // "keys", "store", ... for messages
	destroy   func(unsafe.Pointer)
}

// acquire returns the C pointer with the read lock held, or ErrClosed.
func (h *handle) acquire(op string) (unsafe.Pointer, error) {
	h.mu.RLock()
	if h.ptr == nil {
		h.mu.RUnlock()
		return nil, fmt.Errorf("volcrypt %s: %s %w", op, h.kind, ErrClosed)
	}
	return h.ptr, nil
}

func (h *handle) release() { h.mu.RUnlock() }

// use runs fn with the C pointer unless ctx is already done or the handle
// is closed; Close waits until fn returns.
func (h *handle) use(ctx context.Context, op string, fn func(p unsafe.Pointer) error) (err error) {
	if err := notStarted(ctx, op); err != nil {
		return err
	}
	p, err := h.acquire(op)
	if err != nil {
		return err
	}
	defer h.release()
	defer catchNUL(op, &err)
	return fn(p)
}

// close destroys the C handle once; it waits for calls in flight.
func (h *handle) close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ptr == nil {
		return nil
	}
	if n := atomic.LoadInt32(&h.borrowers); n > 0 {
		return fmt.Errorf("volcrypt: closing %s: %w (%d open)", h.kind, ErrBorrowed, n)
	}
	h.destroy(h.ptr)
	h.ptr = nil
	return nil
}

// withCHandle is the exported WithCHandle of every handle type.
func (h *handle) withCHandle(fn func(ptr unsafe.Pointer) error) error {
	return h.use(context.Background(), h.kind, fn)
}

// cstrings collects C copies of Go strings for one call; free releases
// them (wiping those made with secret first).
type cstrings []struct {
	p    unsafe.Pointer
	wipe int
}

// str returns a C copy of s, or NULL for "" (the C default).
func (c *cstrings) str(s string) *C.char {
	if s == "" {
		return nil
	}
	if strings.IndexByte(s, 0) >= 0 {
		panic(nulArgument{})
	}
	p := C.CString(s)
	*c = append(*c, struct {
		p    unsafe.Pointer
		wipe int
	}{unsafe.Pointer(p), 0})
	return p
}

// secret is str for a password: its copy is wiped before it is freed.
func (c *cstrings) secret(s string) *C.char {
	p := c.str(s)
	if p != nil {
		(*c)[len(*c)-1].wipe = len(s)
	}
	return p
}

// secretBytes returns a C copy of b (NULL when empty), wiped before it is
// freed: how key bytes and passphrases go into C.
func (c *cstrings) secretBytes(b []byte) *C.uchar {
	if len(b) == 0 {
		return nil
	}
	p := C.CBytes(b)
	*c = append(*c, struct {
		p    unsafe.Pointer
		wipe int
	}{p, len(b)})
	return (*C.uchar)(p)
}

func (c *cstrings) free() {
	for _, s := range *c {
		if s.wipe > 0 {
			C.volcrypt_wipe(s.p, C.size_t(s.wipe))
		}
		C.free(s.p)
	}
	*c = nil
}

// takeString returns the malloc'd C string s as a Go string and frees it.
func takeString(s *C.char) string {
	defer C.volcrypt_free(unsafe.Pointer(s))
	return C.GoString(s)
}

// takeJSON decodes the malloc'd JSON text s into v and frees it.
func takeJSON(op string, s *C.char, v interface{}) error {
	if err := json.Unmarshal([]byte(takeString(s)), v); err != nil {
		return fmt.Errorf("volcrypt %s: decoding its JSON: %w", op, err)
	}
	return nil
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
