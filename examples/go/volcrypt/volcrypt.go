// Package volcrypt binds volcrypt's C ABI (libvolcrypt.so) for Go control
// planes through cgo. Errors are *Error values carrying the errno (use
// errors.Is with syscall.ENOENT etc.); handles are closed with Close;
// secrets come back as *Secret, which Wipe zeroes.
//
//	keys, _ := volcrypt.OpenFileKeys("/var/lib/vc/keys", "/var/lib/vc/master.key")
//	defer keys.Close()
//	...
//	svc, _ := volcrypt.NewService(volcrypt.ServiceOptions{Keys: keys, Store: store, Mapped: mapped})
//	vol, err := svc.CreateVolume(volcrypt.CreateRequest{ID: "v1", Path: "/srv/v1", SizeBytes: 1 << 30})
package volcrypt

/*
#cgo pkg-config: volcrypt
#include <stdlib.h>
#include <volcrypt.h>
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime"
	"syscall"
	"unsafe"
)

// Error is a failed volcrypt call: the errno and volcrypt's message.
type Error struct {
	Call    string
	Errno   syscall.Errno
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("volcrypt %s: %s", e.Call, e.Message) }

// Is lets errors.Is(err, syscall.ENOENT) work.
func (e *Error) Is(target error) bool {
	errno, ok := target.(syscall.Errno)
	return ok && errno == e.Errno
}

func check(rc C.int, errmsg *C.char, call string) error {
	if rc >= 0 {
		return nil
	}
	e := &Error{Call: call, Errno: syscall.Errno(-rc)}
	if errmsg != nil {
		e.Message = C.GoString(errmsg)
		C.volcrypt_free(unsafe.Pointer(errmsg))
	} else {
		e.Message = e.Errno.Error()
	}
	return e
}

func takeString(s *C.char) string {
	defer C.volcrypt_free(unsafe.Pointer(s))
	return C.GoString(s)
}

// cstr returns a C copy of s (nil for ""), freed by the returned func.
func cstr(s string) (*C.char, func()) {
	if s == "" {
		return nil, func() {}
	}
	p := C.CString(s)
	return p, func() { C.free(unsafe.Pointer(p)) }
}

// Version is the version of the library loaded at run time.
func Version() string { return C.GoString(C.volcrypt_version()) }

// HeaderVersion is the version of the volcrypt.h this package was compiled
// against; a program may compare it with Version.
const HeaderVersion = C.VOLCRYPT_VERSION_STRING

// Secret holds key bytes or a passphrase; Wipe zeroes them.
type Secret struct{ b []byte }

func (s *Secret) Bytes() []byte  { return s.b }
func (s *Secret) String() string { return fmt.Sprintf("[redacted %d bytes]", len(s.b)) }
func (s *Secret) Wipe() {
	if len(s.b) > 0 {
		C.volcrypt_wipe(unsafe.Pointer(&s.b[0]), C.size_t(len(s.b)))
	}
}

// secretCall grows a buffer until the call fits (it answers -ERANGE with the
// size needed).
func secretCall(call string, fn func(buf *C.uchar, n *C.size_t, errmsg **C.char) C.int) (*Secret, error) {
	n := C.size_t(128)
	for {
		buf := C.malloc(n)
		size := n
		var errmsg *C.char
		rc := fn((*C.uchar)(buf), &size, &errmsg)
		if rc == -C.int(syscall.ERANGE) {
			C.free(buf)
			C.volcrypt_free(unsafe.Pointer(errmsg))
			n = size
			continue
		}
		if err := check(rc, errmsg, call); err != nil {
			C.free(buf)
			return nil, err
		}
		s := &Secret{b: C.GoBytes(buf, C.int(size))}
		C.volcrypt_wipe(buf, n)
		C.free(buf)
		return s, nil
	}
}

// Keys is a key manager.
type Keys struct{ h *C.volcrypt_keys_t }

// OpenFileKeys opens (creating) a file key manager.
func OpenFileKeys(dir, masterKeyPath string) (*Keys, error) {
	d, fd := cstr(dir)
	defer fd()
	m, fm := cstr(masterKeyPath)
	defer fm()
	k := &Keys{}
	var errmsg *C.char
	if err := check(C.volcrypt_keys_open_file(d, m, &k.h, &errmsg), errmsg, "keys_open_file"); err != nil {
		return nil, err
	}
	runtime.SetFinalizer(k, (*Keys).Close)
	return k, nil
}

// OpenFixedKeys opens castellan's fixed key.
func OpenFixedKeys(fixedKeyPath string) (*Keys, error) {
	p, fp := cstr(fixedKeyPath)
	defer fp()
	k := &Keys{}
	var errmsg *C.char
	if err := check(C.volcrypt_keys_open_fixed(p, &k.h, &errmsg), errmsg, "keys_open_fixed"); err != nil {
		return nil, err
	}
	runtime.SetFinalizer(k, (*Keys).Close)
	return k, nil
}

func (k *Keys) Close() { C.volcrypt_keys_destroy(k.h); k.h = nil }

// CreateKey makes a random key and returns its id.
func (k *Keys) CreateKey(name string, bits int) (string, error) {
	n, fn := cstr(name)
	defer fn()
	var id, errmsg *C.char
	if err := check(C.volcrypt_keys_create(k.h, C.int(bits), n, &id, &errmsg), errmsg, "keys_create"); err != nil {
		return "", err
	}
	return takeString(id), nil
}

// GetKey returns a key's bytes.
func (k *Keys) GetKey(id string) (*Secret, error) {
	i, fi := cstr(id)
	defer fi()
	return secretCall("keys_get", func(buf *C.uchar, n *C.size_t, errmsg **C.char) C.int {
		return C.volcrypt_keys_get(k.h, i, buf, n, errmsg)
	})
}

// Store is the volume database.
type Store struct{ h *C.volcrypt_store_t }

func OpenSqliteStore(path string) (*Store, error) {
	p, fp := cstr(path)
	defer fp()
	s := &Store{}
	var errmsg *C.char
	if err := check(C.volcrypt_store_open_sqlite(p, &s.h, &errmsg), errmsg, "store_open_sqlite"); err != nil {
		return nil, err
	}
	runtime.SetFinalizer(s, (*Store).Close)
	return s, nil
}

func (s *Store) Close() { C.volcrypt_store_destroy(s.h); s.h = nil }

// Volume is a volume record (cinder's field names).
type Volume struct {
	ID              string `json:"id"`
	Status          string `json:"status"`
	Host            string `json:"host"`
	SizeBytes       uint64 `json:"size_bytes"`
	Backend         string `json:"backend"`
	Encrypted       bool   `json:"encrypted"`
	EncryptionKeyID string `json:"encryption_key_id"`
}

// Volume returns the record of volume id.
func (s *Store) Volume(id string) (*Volume, error) {
	i, fi := cstr(id)
	defer fi()
	var out, errmsg *C.char
	if err := check(C.volcrypt_store_volume_json(s.h, i, &out, &errmsg), errmsg, "store_volume_json"); err != nil {
		return nil, err
	}
	v := &Volume{}
	return v, json.Unmarshal([]byte(takeString(out)), v)
}

// Backend is where volumes live.
type Backend struct{ h *C.volcrypt_backend_t }

func OpenMappedBackend() (*Backend, error) {
	b := &Backend{}
	var errmsg *C.char
	if err := check(C.volcrypt_backend_open_mapped(&b.h, &errmsg), errmsg, "backend_open_mapped"); err != nil {
		return nil, err
	}
	runtime.SetFinalizer(b, (*Backend).Close)
	return b, nil
}

func (b *Backend) Close() { C.volcrypt_backend_destroy(b.h); b.h = nil }

// ServiceOptions names the handles a Service borrows; keep them open while
// the service is.
type ServiceOptions struct {
	Keys   *Keys
	Store  *Store
	Mapped *Backend
	Host   string
}

// Service creates, deletes, extends and attaches volumes.
type Service struct {
	h    *C.volcrypt_service_t
	opts ServiceOptions
}

func NewService(o ServiceOptions) (*Service, error) {
	host, fh := cstr(o.Host)
	defer fh()
	var copts C.volcrypt_service_options_t
	copts.struct_size = C.size_t(unsafe.Sizeof(copts))
	copts.keys = o.Keys.h
	copts.store = o.Store.h
	if o.Mapped != nil {
		copts.mapped = o.Mapped.h
	}
	copts.host = host
	s := &Service{opts: o}
	var errmsg *C.char
	if err := check(C.volcrypt_service_create(&copts, &s.h, &errmsg), errmsg, "service_create"); err != nil {
		return nil, err
	}
	runtime.SetFinalizer(s, (*Service).Close)
	return s, nil
}

func (s *Service) Close() { C.volcrypt_service_destroy(s.h); s.h = nil }

// CreateRequest describes a new encrypted volume.
type CreateRequest struct {
	ID        string
	Path      string // mapped volumes
	SizeBytes uint64
	Format    string // "luks1" (default) or "luks2"
}

func (s *Service) CreateVolume(r CreateRequest) (*Volume, error) {
	id, f1 := cstr(r.ID)
	defer f1()
	path, f2 := cstr(r.Path)
	defer f2()
	format, f3 := cstr(r.Format)
	defer f3()
	var req C.volcrypt_create_request_t
	req.struct_size = C.size_t(unsafe.Sizeof(req))
	req.id = id
	req.path = path
	req.size_bytes = C.uint64_t(r.SizeBytes)
	req.format = format
	var out, errmsg *C.char
	if err := check(C.volcrypt_volume_create(s.h, &req, &out, &errmsg), errmsg, "volume_create"); err != nil {
		return nil, err
	}
	v := &Volume{}
	return v, json.Unmarshal([]byte(takeString(out)), v)
}

func (s *Service) DeleteVolume(id string) error {
	i, fi := cstr(id)
	defer fi()
	var errmsg *C.char
	return check(C.volcrypt_volume_delete(s.h, i, &errmsg), errmsg, "volume_delete")
}

// Reconcile finishes or undoes what a crash or an incomplete rollback left
// on this host (records older than graceSeconds) and returns how many
// records it handled.
func (s *Service) Reconcile(graceSeconds int64) (int, error) {
	var acted C.int
	var errmsg *C.char
	err := check(C.volcrypt_reconcile(s.h, C.int64_t(graceSeconds), &acted, &errmsg),
		errmsg, "reconcile")
	return int(acted), err
}

// AttachPlan is the libvirt secret XML, the disk XML and the passphrase to
// set as the secret's value.
type AttachPlan struct {
	SecretXML  string
	DiskXML    string
	Passphrase *Secret
}

func (s *Service) AttachPlan(id, targetDev string) (*AttachPlan, error) {
	i, fi := cstr(id)
	defer fi()
	t, ft := cstr(targetDev)
	defer ft()
	plan := &AttachPlan{}
	var err error
	plan.Passphrase, err = secretCall("volume_attach_plan", func(buf *C.uchar, n *C.size_t, errmsg **C.char) C.int {
		var sx, dx *C.char
		rc := C.volcrypt_volume_attach_plan(s.h, i, t, &sx, &dx, buf, n, errmsg)
		if rc == 0 {
			plan.SecretXML, plan.DiskXML = takeString(sx), takeString(dx)
		}
		return rc
	})
	if err != nil {
		return nil, err
	}
	return plan, nil
}

// VerifyPassphrase returns the keyslot of the LUKS volume at path that
// passphrase unlocks.
func VerifyPassphrase(path string, passphrase *Secret) (int, error) {
	p, fp := cstr(path)
	defer fp()
	var slot C.int
	var errmsg *C.char
	b := passphrase.Bytes()
	buf := C.CBytes(b)
	defer func() { C.volcrypt_wipe(buf, C.size_t(len(b))); C.free(buf) }()
	rc := C.volcrypt_luks_verify_passphrase(p, (*C.uchar)(buf), C.size_t(len(b)), &slot, &errmsg)
	if err := check(rc, errmsg, "luks_verify_passphrase"); err != nil {
		return -1, err
	}
	return int(slot), nil
}
