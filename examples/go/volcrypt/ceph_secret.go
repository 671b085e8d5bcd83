package volcrypt

/*
#include <volcrypt.h>
*/
import "C"

import (
	"context"
	"unsafe"
)

// DefineCephSecret puts the cephx key of o.ClientID into libvirt's secret
// of usage "ceph", which rbd disks' <auth> names, and returns its UUID. The
// library reads the key from o.Keyring (else the keyring o.CephConf names):
// it never passes through Go. The secret is o.LibvirtAuthSecretUUID if set
// (defined private and persistent, or given the new value), else the one
// of usage name "client.<id> secret", else a new one. ErrNotFound: no
// keyring or no key for the client; ErrExists: that UUID has another usage,
// or another secret has the usage name (the message names its UUID).
func (a *Attacher) DefineCephSecret(ctx context.Context, o RBDOptions) (uuid string, err error) {
	const op = "ceph_secret_define"
	defer catchNUL(op, &err)
	var s cstrings
	defer s.free()
	co := o.c(&s)
	buf := make([]byte, C.VOLCRYPT_UUID_SIZE)
	err = a.use(ctx, op, func(p unsafe.Pointer) error {
		var errmsg *C.char
		return check(C.volcrypt_ceph_secret_define((*C.volcrypt_attacher_t)(p), &co,
			(*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), &errmsg), errmsg, op)
	})
	if err != nil {
		return "", err
	}
	return C.GoString((*C.char)(unsafe.Pointer(&buf[0]))), nil
}

// CheckCephSecret checks libvirt's secret o.LibvirtAuthSecretUUID, as an
// attach of an rbd volume does before it touches anything. ErrNotFound: no
// such secret; errors.Is(err, syscall.ENOKEY): it has no value;
// syscall.EKEYREJECTED: it holds another key than the keyring's (checked
// only where libvirt lets the value be read: not for private secrets);
// ErrExists: a secret of another usage.
func (a *Attacher) CheckCephSecret(ctx context.Context, o RBDOptions) (err error) {
	const op = "ceph_secret_check"
	defer catchNUL(op, &err)
	var s cstrings
	defer s.free()
	co := o.c(&s)
	return a.use(ctx, op, func(p unsafe.Pointer) error {
		var errmsg *C.char
		return check(C.volcrypt_ceph_secret_check((*C.volcrypt_attacher_t)(p), &co, &errmsg),
			errmsg, op)
	})
}
