package volcrypt

/*
#include <volcrypt.h>
*/
import "C"

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// ServiceOptions names the handles a Service borrows. Keys and Store are
// required; Mapped, RBD and Attacher only for the volumes and calls that
// need them. While the Service is open their Close returns ErrBorrowed.
type ServiceOptions struct {
	Keys     *Keys
	Store    *Store
	Mapped   *Backend  // for mapped volumes
	RBD      *Backend  // for rbd volumes
	Attacher *Attacher // for Attach and Detach
	Host     string    // empty: the system's host name
}

// Service creates, deletes, extends, attaches, snapshots and reconciles
// volumes (volcrypt_service_t).
type Service struct{ handle }

// borrow marks h as used by a service and returns its C pointer.
func borrow(h *handle, what string, borrowed *[]*handle) (unsafe.Pointer, error) {
	p, err := h.acquire("service_create")
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, what)
	}
	atomic.AddInt32(&h.borrowers, 1)
	h.release()
	*borrowed = append(*borrowed, h)
	return p, nil
}

// NewService creates a service over the handles in o. It does not block.
func NewService(o ServiceOptions) (_ *Service, err error) {
	defer catchNUL("service_create", &err)
	if o.Keys == nil || o.Store == nil {
		return nil, &Error{Op: "service_create", Errno: syscall.EINVAL, Message: "Keys and Store are required"}
	}
	var borrowed []*handle
	giveBack := func() {
		for _, h := range borrowed {
			atomic.AddInt32(&h.borrowers, -1)
		}
	}
	var co C.volcrypt_service_options_t
	co.struct_size = C.size_t(unsafe.Sizeof(co))
	// Before borrowing: a host with a NUL byte panics (see catchNUL).
	var s cstrings
	defer s.free()
	co.host = s.str(o.Host)
	var borrowErr error
	take := func(h *handle, what string) unsafe.Pointer {
		if borrowErr != nil {
			return nil
		}
		p, err := borrow(h, what, &borrowed)
		borrowErr = err
		return p
	}
	co.keys = (*C.volcrypt_keys_t)(take(&o.Keys.handle, "Keys"))
	co.store = (*C.volcrypt_store_t)(take(&o.Store.handle, "Store"))
	if o.Mapped != nil {
		co.mapped = (*C.volcrypt_backend_t)(take(&o.Mapped.handle, "Mapped"))
	}
	if o.RBD != nil {
		co.rbd = (*C.volcrypt_backend_t)(take(&o.RBD.handle, "RBD"))
	}
	if o.Attacher != nil {
		co.attacher = (*C.volcrypt_attacher_t)(take(&o.Attacher.handle, "Attacher"))
	}
	if borrowErr != nil {
		giveBack()
		return nil, borrowErr
	}
	var p *C.volcrypt_service_t
	var errmsg *C.char
	if err := check(C.volcrypt_service_create(&co, &p, &errmsg), errmsg, "service_create"); err != nil {
		giveBack()
		return nil, err
	}
	svc := &Service{handle{ptr: unsafe.Pointer(p), kind: "service",
		destroy: func(p unsafe.Pointer) {
			C.volcrypt_service_destroy((*C.volcrypt_service_t)(p))
			giveBack()
		}}}
	// The borrowed Go values stay reachable from the service, so their
	// finalizers cannot run before its own (Go finalizes chains in order).
	keep := o
	runtime.SetFinalizer(svc, func(svc *Service) { _ = svc.Close(); runtime.KeepAlive(keep) })
	return svc, nil
}

// Close destroys the service, waiting for calls in flight, and gives back
// the handles it borrowed. Closing twice is a no-op.
func (s *Service) Close() error { return s.close() }

// WithCHandle runs fn with the C volcrypt_service_t* for C calls this
// package does not wrap; Close waits until fn returns. fn must not keep the
// pointer.
func (s *Service) WithCHandle(fn func(ptr unsafe.Pointer) error) error {
	return s.withCHandle(fn)
}

// call makes one C call on the service: fn gets the C handle, a place for
// C strings that live until the call returns, and the errmsg out-parameter.
// Wrapping a new volcrypt_volume_* call is a few lines of this.
func (s *Service) call(ctx context.Context, op string,
	fn func(h *C.volcrypt_service_t, cs *cstrings, errmsg **C.char) C.int) error {
	return s.use(ctx, op, func(p unsafe.Pointer) error {
		var cs cstrings
		defer cs.free()
		var errmsg *C.char
		return check(fn((*C.volcrypt_service_t)(p), &cs, &errmsg), errmsg, op)
	})
}

// callJSON is call for a C call that returns a JSON record in *out,
// decoded into v.
func (s *Service) callJSON(ctx context.Context, op string, v interface{},
	fn func(h *C.volcrypt_service_t, cs *cstrings, out, errmsg **C.char) C.int) error {
	var out *C.char
	if err := s.call(ctx, op, func(h *C.volcrypt_service_t, cs *cstrings, errmsg **C.char) C.int {
		return fn(h, cs, &out, errmsg)
	}); err != nil {
		return err
	}
	return takeJSON(op, out, v)
}

// CreateRequest describes a new encrypted volume: Path for a mapped
// volume, or Pool and Image for an rbd one. Empty strings and zeros take
// the defaults.
type CreateRequest struct {
	ID        string // empty: a new UUID
	Path      string // a mapped volume's host path
	Pool      string // an rbd volume's pool
	Image     string // and image
	SizeBytes uint64 // usable bytes: what the guest sees
	Format    string // "luks1" (default) or "luks2"
	Cipher    string // default "aes-xts-plain64"
	KeyBits   int    // AES strength (0: 256)
	Engine    string // "qemu" (default) or "librbd"
	KDF       string // "machine-key" (default) or "passphrase"
	// DeferFormat (mapped): LUKS-format at the first attach plan instead.
	DeferFormat bool
	UserID      string
	ProjectID   string
	// NativeFormat (rbd, engine "librbd"): librbd writes the header
	// (rbd_encryption_format, its slow KDF). Needs libvolcrypt 0.2.
	NativeFormat bool
}

// CreateVolume creates an encrypted volume (record, key, backing volume,
// LUKS header) and returns its record; on failure nothing is left behind.
// ErrExists: the id, path or image is taken; ErrInvalid: a bad request;
// ErrSizeOutOfRange: a size too large or too small for the header.
func (s *Service) CreateVolume(ctx context.Context, r CreateRequest) (*Volume, error) {
	v := &Volume{}
	err := s.callJSON(ctx, "volume_create", v,
		func(h *C.volcrypt_service_t, cs *cstrings, out, errmsg **C.char) C.int {
			var req C.volcrypt_create_request_t
			req.struct_size = C.size_t(unsafe.Sizeof(req))
			req.id = cs.str(r.ID)
			req.path = cs.str(r.Path)
			req.pool = cs.str(r.Pool)
			req.image = cs.str(r.Image)
			req.size_bytes = C.uint64_t(r.SizeBytes)
			req.format = cs.str(r.Format)
			req.cipher = cs.str(r.Cipher)
			req.key_bits = C.int(r.KeyBits)
			req.engine = cs.str(r.Engine)
			req.kdf = cs.str(r.KDF)
			req.defer_format = cbool(r.DeferFormat)
			req.user_id = cs.str(r.UserID)
			req.project_id = cs.str(r.ProjectID)
			req.native_format = cbool(r.NativeFormat)
			return C.volcrypt_volume_create(h, &req, out, errmsg)
		})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// DeleteVolume deletes the volume, then its key (unless another record
// uses it), then its record; a volume that no longer holds what its record
// made is left alone. ErrNotFound: no such volume; ErrBusy: attached, used
// by a domain, snapshots depend on it, or another operation is under way;
// ErrUnavailable: a key manager or cluster cannot be reached (the record
// stays "deleting" and a rerun or Reconcile finishes it).
func (s *Service) DeleteVolume(ctx context.Context, id string) error {
	return s.call(ctx, "volume_delete", func(h *C.volcrypt_service_t, cs *cstrings, errmsg **C.char) C.int {
		return C.volcrypt_volume_delete(h, cs.str(id), errmsg)
	})
}

// ExtendVolume grows the volume so the guest sees exactly sizeBytes.
// ErrInvalid: a shrink or a size not a multiple of the sector size;
// ErrSizeOutOfRange: too large; ErrBusy unless the volume is available;
// ENOSPC: no room to grow.
func (s *Service) ExtendVolume(ctx context.Context, id string, sizeBytes uint64) error {
	return s.call(ctx, "volume_extend", func(h *C.volcrypt_service_t, cs *cstrings, errmsg **C.char) C.int {
		return C.volcrypt_volume_extend(h, cs.str(id), C.uint64_t(sizeBytes), errmsg)
	})
}

// VerifyVolume returns the keyslot the volume's key unlocks, after
// checking that the record, the key manager and the header agree.
func (s *Service) VerifyVolume(ctx context.Context, id string) (int, error) {
	var slot C.int
	err := s.call(ctx, "volume_verify", func(h *C.volcrypt_service_t, cs *cstrings, errmsg **C.char) C.int {
		return C.volcrypt_volume_verify(h, cs.str(id), &slot, errmsg)
	})
	if err != nil {
		return -1, err
	}
	return int(slot), nil
}

// Reconcile finishes or undoes what a crash, or a rollback that could not
// reach the key manager, left on this host (records older than
// graceSeconds) and returns how many records it handled.
func (s *Service) Reconcile(ctx context.Context, graceSeconds int64) (int, error) {
	var acted C.int
	err := s.call(ctx, "reconcile", func(h *C.volcrypt_service_t, _ *cstrings, errmsg **C.char) C.int {
		return C.volcrypt_reconcile(h, C.int64_t(graceSeconds), &acted, errmsg)
	})
	return int(acted), err
}
