package volcrypt

/*
#include <stdint.h>
#include <stdlib.h>
#include <volcrypt.h>

// Defined in rotation_callback.c: forwards to goRotationItem.
void volcrypt_go_set_on_rotation_item(volcrypt_rotate_options_t *o);
*/
import "C"

import (
	"encoding/json"
	"runtime/cgo"
	"unsafe"
)

// RotationItem is one volume's result in RotateKeys.
type RotationItem struct {
	VolumeID string `json:"volume_id"`
	Outcome  string `json:"outcome"` // rotated, would-rotate, skipped, failed
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
	Host             string // "": the service's host
	KeyCreatedBefore int64  // Unix seconds; 0: now. Reruns pass the same value
	DryRun           bool
	MaxErrors        int // 0: 3; < 0: stop at the first failure
	// OnItem, if set, is called after each volume with volumes done and total.
	OnItem func(item RotationItem, done, total int)
}

//export goRotationItem
func goRotationItem(context unsafe.Pointer, item *C.char, done, total C.int) {
	h := *(*cgo.Handle)(context)
	var it RotationItem
	if json.Unmarshal([]byte(C.GoString(item)), &it) == nil {
		h.Value().(func(RotationItem, int, int))(it, int(done), int(total))
	}
}

// RekeyVolume gives volume id a new key without copying its data and
// returns its record afterwards.
func (s *Service) RekeyVolume(id string) (*Volume, error) {
	i, fi := cstr(id)
	defer fi()
	var out, errmsg *C.char
	if err := check(C.volcrypt_volume_rekey(s.h, i, &out, &errmsg), errmsg, "volume_rekey"); err != nil {
		return nil, err
	}
	v := &Volume{}
	return v, json.Unmarshal([]byte(takeString(out)), v)
}

// RotateKeys rotates the key of every volume of o.Host whose key was made
// before o.KeyCreatedBefore; hosts sharing a database rotate each volume
// once. Volume failures are in the report.
func (s *Service) RotateKeys(store *Store, o RotationOptions) (*RotationReport, error) {
	host, fh := cstr(o.Host)
	defer fh()
	var opts C.volcrypt_rotate_options_t
	opts.struct_size = C.size_t(unsafe.Sizeof(opts))
	opts.host = host
	opts.key_created_before = C.int64_t(o.KeyCreatedBefore)
	if o.DryRun {
		opts.dry_run = 1
	}
	opts.max_errors = C.int(o.MaxErrors)
	if o.OnItem != nil {
		handle := (*cgo.Handle)(C.malloc(C.size_t(unsafe.Sizeof(cgo.Handle(0)))))
		*handle = cgo.NewHandle(o.OnItem)
		defer func() { handle.Delete(); C.free(unsafe.Pointer(handle)) }()
		opts.context = unsafe.Pointer(handle)
		C.volcrypt_go_set_on_rotation_item(&opts)
	}
	var out, errmsg *C.char
	if err := check(C.volcrypt_keys_rotate(s.h, store.h, &opts, &out, &errmsg), errmsg,
		"keys_rotate"); err != nil {
		return nil, err
	}
	r := &RotationReport{}
	return r, json.Unmarshal([]byte(takeString(out)), r)
}
