package volcrypt

/*
#include <volcrypt.h>
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"unsafe"
)

// Error is a failed volcrypt call: which call, the errno the C library
// returned and its one-line message (which never holds key bytes).
//
// errors.Is(err, syscall.ENOENT) holds when Errno is ENOENT (Error unwraps
// to its Errno, so errors.Is(err, fs.ErrNotExist) holds too), and so does
// errors.Is against the sentinels below (ErrNotFound, ErrBusy, ...).
type Error struct {
	// Op is the C call without its volcrypt_ prefix ("volume_create").
	Op string
	// Errno is the positive errno (the C call returned its negative).
	Errno syscall.Errno
	// Message is the library's message, or strerror when it gave none.
	Message string
}

// Error returns "volcrypt <op>: <message>".
func (e *Error) Error() string { return fmt.Sprintf("volcrypt %s: %s", e.Op, e.Message) }

// Unwrap returns the errno, so errors.Is matches syscall.Errno values and
// the fs errors they stand for.
func (e *Error) Unwrap() error { return e.Errno }

// Is reports whether target is one of the sentinels whose errnos include
// e.Errno.
func (e *Error) Is(target error) bool {
	s, ok := target.(*sentinel)
	if !ok {
		return false
	}
	for _, errno := range s.errnos {
		if errno == e.Errno {
			return true
		}
	}
	return false
}

// sentinel is a class of errnos that errors.Is matches against *Error.
type sentinel struct {
	text   string
	errnos []syscall.Errno
}

func (s *sentinel) Error() string { return s.text }

// Sentinel errors: errors.Is(err, ErrNotFound) holds for every *Error whose
// errno is in the class. The errnos are those volcrypt.h documents.
var (
	// ErrNotFound: no such volume, key, snapshot, domain or file (ENOENT).
	ErrNotFound error = &sentinel{"volcrypt: not found", []syscall.Errno{syscall.ENOENT}}
	// ErrExists: the id, image or key is taken, or a deferred volume
	// already holds data (EEXIST).
	ErrExists error = &sentinel{"volcrypt: already exists", []syscall.Errno{syscall.EEXIST}}
	// ErrInvalid: a bad argument, or a combination no engine supports
	// (EINVAL).
	ErrInvalid error = &sentinel{"volcrypt: invalid argument", []syscall.Errno{syscall.EINVAL}}
	// ErrPermission: refused: wrong master key, credentials Keystone
	// refused, a key file others can read (EACCES), or no keyslot accepts
	// the passphrase (EPERM).
	ErrPermission error = &sentinel{"volcrypt: permission denied",
		[]syscall.Errno{syscall.EACCES, syscall.EPERM}}
	// ErrBusy: the volume is not in a state that allows the call (attached,
	// creating, has dependent clones) (EBUSY).
	ErrBusy error = &sentinel{"volcrypt: busy", []syscall.Errno{syscall.EBUSY}}
	// ErrUnavailable: a service (Ceph, libvirtd, Barbican, Keystone,
	// PostgreSQL) could not be reached; retrying later may work (EAGAIN,
	// ETIMEDOUT, ECONNREFUSED).
	ErrUnavailable error = &sentinel{"volcrypt: service unavailable",
		[]syscall.Errno{syscall.EAGAIN, syscall.ETIMEDOUT, syscall.ECONNREFUSED}}
	// ErrNotSupported: the volume's backend cannot do this, e.g. a
	// snapshot of a mapped volume (ENOTSUP).
	ErrNotSupported error = &sentinel{"volcrypt: not supported", []syscall.Errno{syscall.ENOTSUP}}
	// ErrSizeOutOfRange: a size too large, or too small for a LUKS header
	// (EDOM).
	ErrSizeOutOfRange error = &sentinel{"volcrypt: size out of range", []syscall.Errno{syscall.EDOM}}
)

// ErrClosed is returned (wrapped) by a call on a handle after its Close.
var ErrClosed = errors.New("handle is closed")

// ErrBorrowed is returned by Close on a Keys, Store, Backend or Attacher
// that an open Service still borrows: close the Service first.
var ErrBorrowed = errors.New("handle is borrowed by an open service")

// check turns a C return code and its message into nil or an *Error, and
// frees the message.
func check(rc C.int, errmsg *C.char, op string) error {
	if rc >= 0 {
		if errmsg != nil {
			C.volcrypt_free(unsafe.Pointer(errmsg))
		}
		return nil
	}
	e := &Error{Op: op, Errno: syscall.Errno(-rc)}
	if errmsg != nil {
		e.Message = C.GoString(errmsg)
		C.volcrypt_free(unsafe.Pointer(errmsg))
	} else {
		e.Message = e.Errno.Error()
	}
	return e
}

// notStarted is the error of a call whose context was done before it
// began: the C call was never made.
func notStarted(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("volcrypt %s: not started: %w", op, err)
	}
	return nil
}

// nulArgument is what cstrings.str panics with for a string holding a NUL
// byte: C would silently cut the string there ("v1\x00x" would name v1).
// catchNUL turns it back into an error before any C call was made.
type nulArgument struct{}

// catchNUL, deferred by every function that builds C strings, returns an
// ErrInvalid *Error for a string argument holding a NUL byte.
func catchNUL(op string, err *error) {
	if r := recover(); r != nil {
		if _, ok := r.(nulArgument); !ok {
			panic(r)
		}
		*err = &Error{Op: op, Errno: syscall.EINVAL, Message: "a string argument holds a NUL byte"}
	}
}
