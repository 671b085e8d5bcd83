// Package volcrypt binds libvolcrypt, the C ABI of volcrypt (encrypted cloud
// volumes that QEMU decrypts itself: LUKS headers, keys in a key manager,
// records in SQLite or PostgreSQL, libvirt attach, Ceph RBD), for Go control
// planes through cgo. It covers every call of volcrypt.h
// (volcrypt_volume_attach and volcrypt_volume_attach_plan through their
// _with_options forms).
//
// It builds against an installed library: the cgo directive is
// `#cgo pkg-config: volcrypt`, so `pkg-config --cflags --libs volcrypt` must
// work (set PKG_CONFIG_PATH for a non-standard prefix).
//
//	keys, err := volcrypt.OpenFileKeys("/var/lib/vc/keys", "/var/lib/vc/master.key")
//	store, err := volcrypt.OpenSQLiteStore("/var/lib/vc/volumes.db")
//	mapped, err := volcrypt.OpenMappedBackend()
//	svc, err := volcrypt.NewService(volcrypt.ServiceOptions{Keys: keys, Store: store, Mapped: mapped})
//	vol, err := svc.CreateVolume(ctx, volcrypt.CreateRequest{ID: "v1", Path: "/srv/v1", SizeBytes: 1 << 30})
//	plan, err := svc.AttachPlan(ctx, "v1", volcrypt.AttachOptions{TargetBus: "virtio"})
//	defer plan.Passphrase.Wipe()
//
// # Handles and thread safety
//
// Keys, Store, Backend, Attacher and Service each own one C handle. Every
// handle may be used from several goroutines at once (the C library allows
// it). Close may also be called at any time, from any goroutine: it waits
// for the calls in flight on that handle, destroys it once, and later calls
// return an error wrapping ErrClosed; a second Close is a no-op. A Service
// borrows the handles in its ServiceOptions: until the Service is closed,
// their Close returns ErrBorrowed instead of freeing what the Service uses.
// Handles nobody closed are closed by finalizers, services before the
// handles they borrow. WithCHandle lends the C pointer to the caller's own
// cgo code for calls this package does not wrap.
//
// # Contexts and cancellation
//
// Calls that can block on a network, libvirtd or Ceph take a
// context.Context. A C call cannot be interrupted, and returning early while
// it went on in the background would leave the caller unsure whether a
// volume was created, deleted or attached. So the context is checked before
// each C call starts: when it is already done the call is not made and the
// error wraps ctx.Err() (errors.Is(err, context.Canceled) holds). Once
// started, a call runs to completion and its real result is returned. The
// time a call can block is bounded by the library's own timeouts:
// BarbicanOptions.TimeoutSeconds and MaxAttempts, RBDOptions.TimeoutSeconds,
// and libvirt's and libpq's. The one wait in Go's hands, WritePassphrase
// waiting for room in a non-blocking pipe, ends when the context is done.
//
// # Errors
//
// A failed call returns an *Error with the errno and the library's one-line
// message (never key bytes). errors.Is(err, syscall.ENOENT) works, and so
// does errors.Is against the sentinels ErrNotFound, ErrExists, ErrInvalid,
// ErrPermission, ErrBusy, ErrUnavailable, ErrNotSupported and
// ErrSizeOutOfRange, each a class of errnos. A string argument holding a
// NUL byte is refused with ErrInvalid before any C call: C would read it cut
// short, so "v1\x00x" would name volume v1.
//
// # Secrets
//
// Key bytes and passphrases come back as *Secret, which never prints them
// (every fmt verb and JSON show "[redacted N bytes]"); Wipe zeroes them.
// Service.WritePassphrase hands a volume's passphrase to a pipe or file
// without any Go value holding it. Passwords given in options are copied
// into C memory that is wiped before it is freed.
package volcrypt
