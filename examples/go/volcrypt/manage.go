package volcrypt

// #include <stdlib.h>
// #include <volcrypt.h>
import "C"

import (
	"context"
	"syscall"
	"unsafe"
)

// ManageRequest says where an existing volume is and how it opens: exactly
// one of KeyID (a key already in the key manager), Key (raw key bytes,
// stored as a new key), Passphrase (stored as it is, never hexed) or
// Unencrypted (a plain volume).
type ManageRequest struct {
	ID          string // empty: a new UUID
	Path        string // a mapped volume's host path, or
	Pool, Image string // an rbd volume's pool and image
	Engine      string // "qemu" (default) or "librbd" (rbd only; LUKS2)
	KeyID       string
	Key         []byte // copied and wiped in C; wipe yours after the call
	Passphrase  []byte // likewise
	Unencrypted bool
	SizeBytes   uint64 // 0: what the header leaves; else it must match
	UserID      string
	ProjectID   string
}

// ManageVolume takes over a volume volcrypt did not create, without writing
// to it: it reads the header, proves the key opens a keyslot, derives the
// usable size from the header's real payload offset and records it. On
// failure nothing is recorded or stored. syscall.EPERM: the key opens no
// keyslot; ErrExists: the id or location is taken (or a key is already
// named for the id); ErrInvalid: no LUKS header, a size that does not
// match, an engine that cannot open it, or not exactly one way to open it.
func (s *Service) ManageVolume(ctx context.Context, r ManageRequest) (*Volume, error) {
	if r.Key != nil && r.Passphrase != nil {
		return nil, &Error{Op: "volume_manage", Errno: syscall.EINVAL,
			Message: "manage takes a key or a passphrase, not both"}
	}
	v := &Volume{}
	err := s.callJSON(ctx, "volume_manage", v,
		func(h *C.volcrypt_service_t, cs *cstrings, out, errmsg **C.char) C.int {
			var req C.volcrypt_manage_request_t
			req.struct_size = C.size_t(unsafe.Sizeof(req))
			req.id = cs.str(r.ID)
			req.path = cs.str(r.Path)
			req.pool = cs.str(r.Pool)
			req.image = cs.str(r.Image)
			req.engine = cs.str(r.Engine)
			req.key_id = cs.str(r.KeyID)
			secret := r.Key
			if r.Passphrase != nil {
				secret = r.Passphrase
				req.is_passphrase = 1
			}
			req.key = cs.secretBytes(secret)
			req.key_len = C.size_t(len(secret))
			req.unencrypted = cbool(r.Unencrypted)
			req.size_bytes = C.uint64_t(r.SizeBytes)
			req.user_id = cs.str(r.UserID)
			req.project_id = cs.str(r.ProjectID)
			return C.volcrypt_volume_manage(h, &req, out, errmsg)
		})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// UnmanageVolume forgets volume id: its record goes, its volume and its key
// stay. ErrBusy unless it is available; ENOTEMPTY while snapshots depend
// on it.
func (s *Service) UnmanageVolume(ctx context.Context, id string) error {
	return s.call(ctx, "volume_unmanage", func(h *C.volcrypt_service_t, cs *cstrings, errmsg **C.char) C.int {
		return C.volcrypt_volume_unmanage(h, cs.str(id), errmsg)
	})
}

// StoreKey stores the given key bytes (16 to 64) as a new key named name
// and returns its id. ErrInvalid for an empty key or a bad length;
// ENOTSUP for the fixed key manager and bytes other than its key.
func (k *Keys) StoreKey(ctx context.Context, key []byte, name string) (string, error) {
	var out *C.char
	err := k.call(ctx, "keys_store", func(h *C.volcrypt_keys_t, cs *cstrings, errmsg **C.char) C.int {
		return C.volcrypt_keys_store(h, cs.secretBytes(key), C.size_t(len(key)), cs.str(name), &out, errmsg)
	})
	if err != nil {
		return "", err
	}
	return takeString(out), nil
}
