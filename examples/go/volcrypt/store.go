package volcrypt

/*
#include <volcrypt.h>
*/
import "C"

import (
	"context"
	"runtime"
	"time"
	"unsafe"
)

// Store is the volume database (volcrypt_store_t): SQLite for one host,
// PostgreSQL for several.
type Store struct{ handle }

func newStore(p *C.volcrypt_store_t) *Store {
	s := &Store{handle{ptr: unsafe.Pointer(p), kind: "store",
		destroy: func(p unsafe.Pointer) { C.volcrypt_store_destroy((*C.volcrypt_store_t)(p)) }}}
	runtime.SetFinalizer(s, func(s *Store) { _ = s.Close() })
	return s
}

// OpenSQLiteStore opens (creating) the SQLite volume database at path.
func OpenSQLiteStore(path string) (_ *Store, err error) {
	defer catchNUL("store_open_sqlite", &err)
	var s cstrings
	defer s.free()
	var p *C.volcrypt_store_t
	var errmsg *C.char
	if err := check(C.volcrypt_store_open_sqlite(s.str(path), &p, &errmsg), errmsg,
		"store_open_sqlite"); err != nil {
		return nil, err
	}
	return newStore(p), nil
}

// OpenPostgresStore connects to a PostgreSQL volume database that several
// hosts may share (a libpq connection string; errors never repeat it).
// ErrUnavailable (ECONNREFUSED) if the server cannot be reached. ctx is
// checked before connecting (see the package doc).
func OpenPostgresStore(ctx context.Context, conninfo string) (_ *Store, err error) {
	defer catchNUL("store_open_postgres", &err)
	if err := notStarted(ctx, "store_open_postgres"); err != nil {
		return nil, err
	}
	var s cstrings
	defer s.free()
	var p *C.volcrypt_store_t
	var errmsg *C.char
	if err := check(C.volcrypt_store_open_postgres(s.secret(conninfo), &p, &errmsg), errmsg,
		"store_open_postgres"); err != nil {
		return nil, err
	}
	return newStore(p), nil
}

// Close closes the database, waiting for calls in flight. ErrBorrowed
// while an open Service uses it; closing twice is a no-op.
func (s *Store) Close() error { return s.close() }

// WithCHandle runs fn with the C volcrypt_store_t* for C calls this package
// does not wrap; Close waits until fn returns. fn must not keep the pointer.
func (s *Store) WithCHandle(fn func(ptr unsafe.Pointer) error) error { return s.withCHandle(fn) }

// Location is where a volume lives: Path for mapped volumes, Pool and
// Image for rbd volumes.
type Location struct {
	Path  string `json:"path,omitempty"`
	Pool  string `json:"pool,omitempty"`
	Image string `json:"image,omitempty"`
}

// Encryption is a volume's encryption spec, with cinder's names.
type Encryption struct {
	Provider        string `json:"provider"` // "luks" (LUKS1) or "luks2"
	Cipher          string `json:"cipher"`
	KeySize         int    `json:"key_size"`
	ControlLocation string `json:"control_location"` // "front-end"
	SectorSize      int    `json:"sector_size"`
	KDF             string `json:"kdf"`    // "machine-key" or "passphrase"
	Engine          string `json:"engine"` // "qemu" or "librbd"
}

// Volume is a volume record, with cinder's field names.
type Volume struct {
	ID              string     `json:"id"`
	Status          string     `json:"status"` // "available", "in-use", "creating", ...
	Host            string     `json:"host"`
	SizeBytes       uint64     `json:"size_bytes"` // what the guest sees
	Backend         string     `json:"backend"`    // "mapped" or "rbd"
	Location        Location   `json:"location"`
	Encrypted       bool       `json:"encrypted"`
	EncryptionKeyID string     `json:"encryption_key_id"`
	Encryption      Encryption `json:"encryption"`
	// KeyFormat is how the passphrase comes from the key: "hex" (the hex of
	// the key's bytes, everything volcrypt creates) or "passphrase" (the
	// bytes themselves: a managed volume's own passphrase).
	KeyFormat string    `json:"key_format"`
	UserID    string    `json:"user_id"`
	ProjectID string    `json:"project_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Snapshot is a snapshot record; it shares its volume's key id.
type Snapshot struct {
	ID              string    `json:"id"`
	VolumeID        string    `json:"volume_id"`
	EncryptionKeyID string    `json:"encryption_key_id"`
	Status          string    `json:"status"`
	CreatedAt       time.Time `json:"created_at"`
}

// Volume returns the record of volume id. ErrNotFound if there is none.
func (s *Store) Volume(ctx context.Context, id string) (*Volume, error) {
	v := &Volume{}
	err := s.use(ctx, "store_volume_json", func(p unsafe.Pointer) error {
		var cs cstrings
		defer cs.free()
		var out, errmsg *C.char
		rc := C.volcrypt_store_volume_json((*C.volcrypt_store_t)(p), cs.str(id), &out, &errmsg)
		if err := check(rc, errmsg, "store_volume_json"); err != nil {
			return err
		}
		return takeJSON("store_volume_json", out, v)
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Volumes returns every volume record.
func (s *Store) Volumes(ctx context.Context) ([]Volume, error) {
	var vs []Volume
	err := s.use(ctx, "store_list_json", func(p unsafe.Pointer) error {
		var out, errmsg *C.char
		if err := check(C.volcrypt_store_list_json((*C.volcrypt_store_t)(p), &out, &errmsg),
			errmsg, "store_list_json"); err != nil {
			return err
		}
		return takeJSON("store_list_json", out, &vs)
	})
	if vs == nil && err == nil {
		vs = []Volume{}
	}
	return vs, err
}
