package volcrypt

/*
#include <stdlib.h>
#include <volcrypt.h>
*/
import "C"

import (
	"fmt"
	"syscall"
	"unsafe"
)

// Secret holds key bytes or a passphrase. It never prints them: every fmt
// verb and JSON show "[redacted N bytes]". Wipe zeroes them when done (the
// Go heap does not move objects, so the one copy is the one wiped; copies
// the caller makes of Bytes() are the caller's to wipe).
type Secret struct{ b []byte }

// NewSecret wraps b (not a copy: Wipe zeroes the caller's slice).
func NewSecret(b []byte) *Secret { return &Secret{b: b} }

// Bytes returns the secret's bytes (the same slice, not a copy).
func (s *Secret) Bytes() []byte { return s.b }

// Len returns the number of bytes.
func (s *Secret) Len() int { return len(s.b) }

// String returns "[redacted N bytes]".
func (s *Secret) String() string { return fmt.Sprintf("[redacted %d bytes]", len(s.b)) }

// Format prints "[redacted N bytes]" for every verb, so %x or %#v cannot
// leak the bytes.
func (s *Secret) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

// MarshalJSON encodes the redacted form, never the bytes.
func (s *Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// Wipe overwrites the bytes with zeros. Safe on a nil Secret.
func (s *Secret) Wipe() {
	if s != nil && len(s.b) > 0 {
		C.volcrypt_wipe(unsafe.Pointer(&s.b[0]), C.size_t(len(s.b)))
	}
}

// secretCall calls fn with a C buffer, growing it while fn answers -ERANGE
// with the size needed, and returns a Go copy; the C buffer is wiped.
func secretCall(op string, fn func(buf *C.uchar, n *C.size_t, errmsg **C.char) C.int) (*Secret, error) {
	n := C.size_t(128)
	for {
		buf := C.malloc(n)
		size := n
		var errmsg *C.char
		rc := fn((*C.uchar)(buf), &size, &errmsg)
		if rc == -C.int(syscall.ERANGE) && size > n {
			C.free(buf)
			C.volcrypt_free(unsafe.Pointer(errmsg))
			n = size
			continue
		}
		if err := check(rc, errmsg, op); err != nil {
			C.free(buf)
			return nil, err
		}
		s := &Secret{b: C.GoBytes(buf, C.int(size))}
		C.volcrypt_wipe(buf, n)
		C.free(buf)
		return s, nil
	}
}
