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

// Keys is a key manager (volcrypt_keys_t): sealed key files, castellan's
// fixed key, or Barbican.
type Keys struct{ handle }

func newKeys(p *C.volcrypt_keys_t) *Keys {
	k := &Keys{handle{ptr: unsafe.Pointer(p), kind: "keys",
		destroy: func(p unsafe.Pointer) { C.volcrypt_keys_destroy((*C.volcrypt_keys_t)(p)) }}}
	runtime.SetFinalizer(k, func(k *Keys) { _ = k.Close() })
	return k
}

// OpenFileKeys opens (creating 0700 if missing) a file key manager in dir
// whose keys are sealed under the 32-byte master key at masterKeyPath (raw
// or 64 hex characters, mode 0600). ErrPermission: a wrong master key or a
// file others can read.
func OpenFileKeys(dir, masterKeyPath string) (_ *Keys, err error) {
	defer catchNUL("keys_open_file", &err)
	var s cstrings
	defer s.free()
	var p *C.volcrypt_keys_t
	var errmsg *C.char
	rc := C.volcrypt_keys_open_file(s.str(dir), s.str(masterKeyPath), &p, &errmsg)
	if err := check(rc, errmsg, "keys_open_file"); err != nil {
		return nil, err
	}
	return newKeys(p), nil
}

// OpenFixedKeys opens castellan's fixed key (ConfKeyManager): the file
// holds the hex key as cinder's fixed_key option does. Its one key id is
// the all-zeros UUID.
func OpenFixedKeys(fixedKeyPath string) (_ *Keys, err error) {
	defer catchNUL("keys_open_fixed", &err)
	var s cstrings
	defer s.free()
	var p *C.volcrypt_keys_t
	var errmsg *C.char
	if err := check(C.volcrypt_keys_open_fixed(s.str(fixedKeyPath), &p, &errmsg), errmsg,
		"keys_open_fixed"); err != nil {
		return nil, err
	}
	return newKeys(p), nil
}

// BarbicanOptions says how to reach OpenStack Barbican. Empty strings and
// zeros take the defaults.
type BarbicanOptions struct {
	// Endpoint is "https://barbican:9311"; empty with AuthURL: the
	// key-manager endpoint of Keystone's catalog.
	Endpoint string
	// CAPath is an extra CA bundle.
	CAPath string
	// TimeoutSeconds bounds each request (0: 10).
	TimeoutSeconds int
	// MaxAttempts for 5xx and transport errors (0: 3).
	MaxAttempts int
	// ProjectID is sent as X-Project-Id without Keystone (test beds,
	// trusted networks).
	ProjectID string
	// AuthURL ("https://keystone:5000/v3") turns on Keystone v3: a
	// password scoped to a project, or an application credential. Tokens
	// are renewed before they expire.
	AuthURL                     string
	Username                    string
	Password                    string // copied by the library; this copy is the caller's
	UserDomainName              string // empty: "Default"
	ProjectName                 string
	ProjectDomainName           string // empty: "Default"
	ApplicationCredentialID     string
	ApplicationCredentialSecret string // copied by the library
	// Region selects the catalog region (empty: any).
	Region string
}

// OpenBarbicanKeys opens a Barbican key manager. It contacts Keystone only
// when the endpoint comes from the catalog (Endpoint empty), and so can
// block up to the timeout; ctx is checked before (see the package doc).
// ErrPermission: Keystone refused the credentials.
func OpenBarbicanKeys(ctx context.Context, o BarbicanOptions) (_ *Keys, err error) {
	defer catchNUL("keys_open_barbican", &err)
	if err := notStarted(ctx, "keys_open_barbican"); err != nil {
		return nil, err
	}
	var s cstrings
	defer s.free()
	var co C.volcrypt_barbican_options_t
	co.struct_size = C.size_t(unsafe.Sizeof(co))
	co.endpoint = s.str(o.Endpoint)
	co.ca_path = s.str(o.CAPath)
	co.timeout_seconds = C.int(o.TimeoutSeconds)
	co.max_attempts = C.int(o.MaxAttempts)
	co.project_id = s.str(o.ProjectID)
	co.auth_url = s.str(o.AuthURL)
	co.username = s.str(o.Username)
	co.password = s.secret(o.Password)
	co.user_domain_name = s.str(o.UserDomainName)
	co.project_name = s.str(o.ProjectName)
	co.project_domain_name = s.str(o.ProjectDomainName)
	co.application_credential_id = s.str(o.ApplicationCredentialID)
	co.application_credential_secret = s.secret(o.ApplicationCredentialSecret)
	co.region = s.str(o.Region)
	var p *C.volcrypt_keys_t
	var errmsg *C.char
	if err := check(C.volcrypt_keys_open_barbican(&co, &p, &errmsg), errmsg,
		"keys_open_barbican"); err != nil {
		return nil, err
	}
	return newKeys(p), nil
}

// Close destroys the key manager, waiting for calls in flight. It returns
// ErrBorrowed while an open Service uses it; closing twice is a no-op.
func (k *Keys) Close() error { return k.close() }

// WithCHandle runs fn with the C volcrypt_keys_t* for C calls this package
// does not wrap; Close waits until fn returns. fn must not keep the pointer.
func (k *Keys) WithCHandle(fn func(ptr unsafe.Pointer) error) error { return k.withCHandle(fn) }

// call makes one C call on the key manager, as Service.call does.
func (k *Keys) call(ctx context.Context, op string,
	fn func(h *C.volcrypt_keys_t, cs *cstrings, errmsg **C.char) C.int) error {
	return k.use(ctx, op, func(p unsafe.Pointer) error {
		var cs cstrings
		defer cs.free()
		var errmsg *C.char
		return check(fn((*C.volcrypt_keys_t)(p), &cs, &errmsg), errmsg, op)
	})
}

// CreateKey creates a random key of bits (0: 256; 128 to 512, a multiple
// of 8) named name and returns its id (a UUID). ErrPermission: the key
// manager refused; ENOSPC: its quota is full; ErrUnavailable: it cannot be
// reached.
func (k *Keys) CreateKey(ctx context.Context, name string, bits int) (string, error) {
	if bits == 0 {
		bits = 256
	}
	var out *C.char
	err := k.call(ctx, "keys_create", func(h *C.volcrypt_keys_t, cs *cstrings, errmsg **C.char) C.int {
		return C.volcrypt_keys_create(h, C.int(bits), cs.str(name), &out, errmsg)
	})
	if err != nil {
		return "", err
	}
	return takeString(out), nil
}

// GetKey returns the bytes of key id; Wipe them when done. ErrNotFound if
// there is no such key.
func (k *Keys) GetKey(ctx context.Context, id string) (*Secret, error) {
	var key *Secret
	err := k.use(ctx, "keys_get", func(p unsafe.Pointer) error {
		var s cstrings
		defer s.free()
		cid := s.str(id)
		var err error
		key, err = secretCall("keys_get", func(buf *C.uchar, n *C.size_t, errmsg **C.char) C.int {
			return C.volcrypt_keys_get((*C.volcrypt_keys_t)(p), cid, buf, n, errmsg)
		})
		return err
	})
	return key, err
}

// DeleteKey deletes key id. ErrNotFound if there is none.
func (k *Keys) DeleteKey(ctx context.Context, id string) error {
	return k.call(ctx, "keys_delete", func(h *C.volcrypt_keys_t, cs *cstrings, errmsg **C.char) C.int {
		return C.volcrypt_keys_delete(h, cs.str(id), errmsg)
	})
}
