package volcrypt

/*
#include <stdint.h>
#include <stdlib.h>
#include <volcrypt.h>

// Defined in item_callback.c: forwards to goOnItem.
void volcrypt_go_set_on_rotate_item(volcrypt_rotate_options_t *o);
*/
import "C"

import (
	"context"
	"unsafe"
)

// RotationItem is one volume's result in RotateKeys.
type RotationItem struct {
	VolumeID string `json:"volume_id"`
	Outcome  string `json:"outcome"` // "rotated", "would-rotate", "skipped" or "failed"
	OldKeyID string `json:"old_key_id"`
	NewKeyID string `json:"new_key_id,omitempty"`
	Error    string `json:"error,omitempty"`
}

// RotationReport is the result of RotateKeys.
type RotationReport struct {
	Host    string         `json:"host"`
	Rotated int            `json:"rotated"`
	Failed  int            `json:"failed"`
	Skipped int            `json:"skipped"`
	Aborted bool           `json:"aborted"`
	Items   []RotationItem `json:"items"`
}

// RotationOptions says whose volumes get new keys.
type RotationOptions struct {
	Host             string // empty: the service's host
	KeyCreatedBefore int64  // Unix seconds; 0: now. A rerun passes the same value
	DryRun           bool   // report what would be rotated, change nothing
	MaxErrors        int    // stop when more volumes failed; 0: 3; < 0: at the first
	// OnItem, if set, is called after each volume (on the calling
	// goroutine's thread) with volumes done and the total. A panic in it
	// stops further calls and is re-raised once the rotation returns.
	OnItem func(item RotationItem, done, total int)
}

// RekeyVolume gives volume id a new key without copying its data (a new
// keyslot, the old ones removed, the old key deleted unless a snapshot or
// backup names it) and returns its record afterwards. An attached volume
// needs a service with an attacher: its libvirt secret follows the key.
// ErrNotFound: no such volume; ErrBusy: neither available nor in use;
// syscall.EPERM: the recorded key does not open the header.
func (s *Service) RekeyVolume(ctx context.Context, id string) (*Volume, error) {
	v := &Volume{}
	err := s.callJSON(ctx, "volume_rekey", v,
		func(h *C.volcrypt_service_t, cs *cstrings, out, errmsg **C.char) C.int {
			return C.volcrypt_volume_rekey(h, cs.str(id), out, errmsg)
		})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// RotateKeys rotates the key of every available or attached volume of
// o.Host whose key was made before o.KeyCreatedBefore, one at a time
// (store is the service's). Hosts sharing a database rotate each volume
// once. Volume failures are in the report, not the error; ctx is checked
// before it starts (see the package doc).
func (s *Service) RotateKeys(ctx context.Context, store *Store, o RotationOptions) (_ *RotationReport, err error) {
	const op = "keys_rotate"
	defer catchNUL(op, &err)
	if err := notStarted(ctx, op); err != nil {
		return nil, err
	}
	sp, err := s.acquire(op)
	if err != nil {
		return nil, err
	}
	defer s.release()
	stp, err := store.acquire(op)
	if err != nil {
		return nil, err
	}
	defer store.release()
	var cs cstrings
	defer cs.free()
	var co C.volcrypt_rotate_options_t
	co.struct_size = C.size_t(unsafe.Sizeof(co))
	co.host = cs.str(o.Host)
	co.key_created_before = C.int64_t(o.KeyCreatedBefore)
	co.dry_run = cbool(o.DryRun)
	co.max_errors = C.int(o.MaxErrors)
	cb := newItemCallback(o.OnItem)
	if cb != nil {
		defer cb.free()
		co.context = cb.context()
		C.volcrypt_go_set_on_rotate_item(&co)
	}
	var out, errmsg *C.char
	rc := C.volcrypt_keys_rotate((*C.volcrypt_service_t)(sp), (*C.volcrypt_store_t)(stp), &co,
		&out, &errmsg)
	cb.rethrow(rc, out, errmsg)
	if err := check(rc, errmsg, op); err != nil {
		return nil, err
	}
	r := &RotationReport{}
	if err := takeJSON(op, out, r); err != nil {
		return nil, err
	}
	return r, nil
}
