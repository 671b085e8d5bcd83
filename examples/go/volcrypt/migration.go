package volcrypt

/*
#include <stdint.h>
#include <stdlib.h>
#include <volcrypt.h>

// Defined in migration_callback.c: forwards to goMigrationItem.
void volcrypt_go_set_on_item(volcrypt_migrate_options_t *o);
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"runtime/cgo"
	"unsafe"
)

// MigrationItem is one volume or backup's result.
type MigrationItem struct {
	Kind              string `json:"kind"`
	ID                string `json:"id"`
	Outcome           string `json:"outcome"` // migrated, would-migrate, already-migrated, skipped, failed
	NewKeyID          string `json:"new_key_id,omitempty"`
	Snapshots         int    `json:"snapshots,omitempty"`
	AdoptedSecret     bool   `json:"adopted_secret,omitempty"`
	DuplicatesDeleted int    `json:"duplicates_deleted,omitempty"`
	Error             string `json:"error,omitempty"`
}

// MigrationReport is the result of MigrateFixedKeys.
type MigrationReport struct {
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
	Host      string
	DryRun    bool
	MaxErrors int // 0: 3 (cinder's); < 0: abort at the first failure
	// OnItem, if set, is called after each item with items done and total.
	OnItem func(item MigrationItem, done, total int)
}

//export goMigrationItem
func goMigrationItem(context unsafe.Pointer, item *C.char, done, total C.int) {
	h := *(*cgo.Handle)(context)
	var it MigrationItem
	if json.Unmarshal([]byte(C.GoString(item)), &it) == nil {
		h.Value().(func(MigrationItem, int, int))(it, int(done), int(total))
	}
}

// MigrateFixedKeys moves o.Host's volumes and backups off castellan's fixed
// key (fixed may be nil when none is configured) to dest, cinder's way,
// resumable after any failure. Item failures are in the report.
func MigrateFixedKeys(store *Store, fixed, dest *Keys, o MigrationOptions) (*MigrationReport, error) {
	host, fh := cstr(o.Host)
	defer fh()
	var opts C.volcrypt_migrate_options_t
	opts.struct_size = C.size_t(unsafe.Sizeof(opts))
	opts.host = host
	if o.DryRun {
		opts.dry_run = 1
	}
	opts.max_errors = C.int(o.MaxErrors)
	if o.OnItem != nil {
		// The handle lives in C memory: C may keep the context pointer.
		handle := (*cgo.Handle)(C.malloc(C.size_t(unsafe.Sizeof(cgo.Handle(0)))))
		*handle = cgo.NewHandle(o.OnItem)
		defer func() { handle.Delete(); C.free(unsafe.Pointer(handle)) }()
		opts.context = unsafe.Pointer(handle)
		C.volcrypt_go_set_on_item(&opts)
	}
	var fixedHandle *C.volcrypt_keys_t
	if fixed != nil {
		fixedHandle = fixed.h
	}
	var out, errmsg *C.char
	if err := check(C.volcrypt_keys_migrate(store.h, fixedHandle, dest.h, &opts, &out, &errmsg),
		errmsg, "keys_migrate"); err != nil {
		return nil, err
	}
	r := &MigrationReport{}
	return r, json.Unmarshal([]byte(takeString(out)), r)
}

// OpenPostgresStore connects to a PostgreSQL volume database shared by hosts
// (a libpq connection string).
func OpenPostgresStore(conninfo string) (*Store, error) {
	c, fc := cstr(conninfo)
	defer fc()
	s := &Store{}
	var errmsg *C.char
	if err := check(C.volcrypt_store_open_postgres(c, &s.h, &errmsg), errmsg, "store_open_postgres"); err != nil {
		return nil, err
	}
	runtime.SetFinalizer(s, (*Store).Close)
	return s, nil
}
