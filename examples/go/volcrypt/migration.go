package volcrypt

/*
#include <stdint.h>
#include <stdlib.h>
#include <volcrypt.h>

// Defined in item_callback.c: forwards to goOnItem.
void volcrypt_go_set_on_migrate_item(volcrypt_migrate_options_t *o);
*/
import "C"

import (
	"context"
	"unsafe"
)

// MigrationItem is one volume's or backup's result.
type MigrationItem struct {
	Kind string `json:"kind"` // "volume" or "backup"
	ID   string `json:"id"`
	// Outcome is "migrated", "would-migrate", "already-migrated",
	// "skipped" or "failed".
	Outcome           string `json:"outcome"`
	NewKeyID          string `json:"new_key_id,omitempty"`
	Snapshots         int    `json:"snapshots,omitempty"`
	AdoptedSecret     bool   `json:"adopted_secret,omitempty"`
	DuplicatesDeleted int    `json:"duplicates_deleted,omitempty"`
	Error             string `json:"error,omitempty"`
}

// MigrationReport is the result of MigrateFixedKeys.
type MigrationReport struct {
	Host string `json:"host"`
	// NotStarted says why nothing was tried (e.g. the fixed key is not in
	// use); empty when the migration ran.
	NotStarted       string          `json:"not_started,omitempty"`
	Migrated         int             `json:"migrated"`
	Failed           int             `json:"failed"`
	Skipped          int             `json:"skipped"`
	Aborted          bool            `json:"aborted"`
	VolumesRemaining int             `json:"volumes_remaining"`
	BackupsRemaining int             `json:"backups_remaining"`
	Items            []MigrationItem `json:"items"`
}

// MigrationOptions says whose items move and how.
type MigrationOptions struct {
	Host      string // empty: this machine's host name
	DryRun    bool   // report what would change, change nothing
	MaxErrors int    // abort when more items failed; 0: 3 (cinder's); < 0: at the first
	// OnItem, if set, is called after each item (on the calling
	// goroutine's thread) with the items done and the total. A panic in it
	// stops further calls and is re-raised once the migration returns.
	OnItem func(item MigrationItem, done, total int)
}

// MigrateFixedKeys moves o.Host's volumes and backups off castellan's
// fixed key (the all-zeros id; fixed from OpenFixedKeys, or nil when none
// is configured) to dest, cinder's way, resumable after any crash. Item
// failures are in the report, not the error. It reaches the key managers
// and the store for every item; ctx is checked before it starts (see the
// package doc).
func MigrateFixedKeys(ctx context.Context, store *Store, fixed, dest *Keys, o MigrationOptions) (_ *MigrationReport, err error) {
	defer catchNUL("keys_migrate", &err)
	const op = "keys_migrate"
	if err := notStarted(ctx, op); err != nil {
		return nil, err
	}
	sp, err := store.acquire(op)
	if err != nil {
		return nil, err
	}
	defer store.release()
	var fp unsafe.Pointer
	if fixed != nil && fixed != dest {
		if fp, err = fixed.acquire(op); err != nil {
			return nil, err
		}
		defer fixed.release()
	}
	dp, err := dest.acquire(op)
	if err != nil {
		return nil, err
	}
	defer dest.release()
	if fixed == dest {
		fp = dp
	}
	var cs cstrings
	defer cs.free()
	var co C.volcrypt_migrate_options_t
	co.struct_size = C.size_t(unsafe.Sizeof(co))
	co.host = cs.str(o.Host)
	co.dry_run = cbool(o.DryRun)
	co.max_errors = C.int(o.MaxErrors)
	cb := newItemCallback(o.OnItem)
	if cb != nil {
		defer cb.free()
		co.context = cb.context()
		C.volcrypt_go_set_on_migrate_item(&co)
	}
	var out, errmsg *C.char
	rc := C.volcrypt_keys_migrate((*C.volcrypt_store_t)(sp), (*C.volcrypt_keys_t)(fp),
		(*C.volcrypt_keys_t)(dp), &co, &out, &errmsg)
	cb.rethrow(rc, out, errmsg)
	if err := check(rc, errmsg, op); err != nil {
		return nil, err
	}
	r := &MigrationReport{}
	if err := takeJSON(op, out, r); err != nil {
		return nil, err
	}
	return r, nil
}
