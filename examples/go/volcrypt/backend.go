package volcrypt

/*
#include <volcrypt.h>
*/
import "C"

import (
	"context"
	"runtime"
	"unsafe"
)

// Backend is where volumes live (volcrypt_backend_t): host files and block
// devices (mapped) or Ceph RBD images.
type Backend struct{ handle }

func newBackend(p *C.volcrypt_backend_t, kind string) *Backend {
	b := &Backend{handle{ptr: unsafe.Pointer(p), kind: kind,
		destroy: func(p unsafe.Pointer) { C.volcrypt_backend_destroy((*C.volcrypt_backend_t)(p)) }}}
	runtime.SetFinalizer(b, func(b *Backend) { _ = b.Close() })
	return b
}

// OpenMappedBackend opens the backend for files and block devices at host
// paths.
func OpenMappedBackend() (*Backend, error) {
	var p *C.volcrypt_backend_t
	var errmsg *C.char
	if err := check(C.volcrypt_backend_open_mapped(&p, &errmsg), errmsg,
		"backend_open_mapped"); err != nil {
		return nil, err
	}
	return newBackend(p, "mapped backend"), nil
}

// RBDOptions says how to reach a Ceph cluster. Empty strings and zeros
// take the defaults.
type RBDOptions struct {
	CephConf       string // empty: librados' default
	ClientID       string // empty: "admin"
	Keyring        string // empty: from ceph.conf
	TimeoutSeconds int    // connecting and each operation (0: 10)
	// LibvirtAuthSecretUUID names the libvirt "ceph" secret that rbd
	// disks' <auth> uses (empty: no <auth> in the disk XML).
	LibvirtAuthSecretUUID string
}

// c is o as C options; its strings live until s is freed.
func (o RBDOptions) c(s *cstrings) C.volcrypt_rbd_options_t {
	var co C.volcrypt_rbd_options_t
	co.struct_size = C.size_t(unsafe.Sizeof(co))
	co.ceph_conf = s.str(o.CephConf)
	co.client_id = s.str(o.ClientID)
	co.keyring = s.str(o.Keyring)
	co.timeout_seconds = C.int(o.TimeoutSeconds)
	co.libvirt_auth_secret_uuid = s.str(o.LibvirtAuthSecretUUID)
	return co
}

// OpenRBDBackend connects to Ceph. It blocks up to the timeout; ctx is
// checked before (see the package doc). ErrUnavailable (or the connect
// errno) if the cluster cannot be reached in time.
func OpenRBDBackend(ctx context.Context, o RBDOptions) (_ *Backend, err error) {
	defer catchNUL("backend_open_rbd", &err)
	if err := notStarted(ctx, "backend_open_rbd"); err != nil {
		return nil, err
	}
	var s cstrings
	defer s.free()
	co := o.c(&s)
	var p *C.volcrypt_backend_t
	var errmsg *C.char
	if err := check(C.volcrypt_backend_open_rbd(&co, &p, &errmsg), errmsg,
		"backend_open_rbd"); err != nil {
		return nil, err
	}
	return newBackend(p, "rbd backend"), nil
}

// Close closes the backend, waiting for calls in flight. ErrBorrowed
// while an open Service uses it; closing twice is a no-op.
func (b *Backend) Close() error { return b.close() }

// WithCHandle runs fn with the C volcrypt_backend_t* for C calls this
// package does not wrap; Close waits until fn returns. fn must not keep the
// pointer.
func (b *Backend) WithCHandle(fn func(ptr unsafe.Pointer) error) error {
	return b.withCHandle(fn)
}

// Attacher is a connection to libvirtd (volcrypt_attacher_t), for
// Service.Attach and Service.Detach.
type Attacher struct{ handle }

// ConnectAttacher connects to libvirtd at uri ("qemu:///system"). ctx is
// checked before connecting (see the package doc). ErrUnavailable if
// libvirtd cannot be reached.
func ConnectAttacher(ctx context.Context, uri string) (_ *Attacher, err error) {
	defer catchNUL("attacher_connect", &err)
	if err := notStarted(ctx, "attacher_connect"); err != nil {
		return nil, err
	}
	var s cstrings
	defer s.free()
	var p *C.volcrypt_attacher_t
	var errmsg *C.char
	if err := check(C.volcrypt_attacher_connect(s.str(uri), &p, &errmsg), errmsg,
		"attacher_connect"); err != nil {
		return nil, err
	}
	a := &Attacher{handle{ptr: unsafe.Pointer(p), kind: "attacher",
		destroy: func(p unsafe.Pointer) { C.volcrypt_attacher_destroy((*C.volcrypt_attacher_t)(p)) }}}
	runtime.SetFinalizer(a, func(a *Attacher) { _ = a.Close() })
	return a, nil
}

// Close disconnects, waiting for calls in flight. ErrBorrowed while an
// open Service uses it; closing twice is a no-op.
func (a *Attacher) Close() error { return a.close() }

// WithCHandle runs fn with the C volcrypt_attacher_t* for C calls this
// package does not wrap; Close waits until fn returns. fn must not keep the
// pointer.
func (a *Attacher) WithCHandle(fn func(ptr unsafe.Pointer) error) error {
	return a.withCHandle(fn)
}
