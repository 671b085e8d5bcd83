package volcrypt

/*
#include <volcrypt.h>
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// AttachOptions says how a volume is attached or planned. The zero value
// is the default: target "sdb" on the "scsi" bus, a persistent secret,
// live only.
type AttachOptions struct {
	TargetDev string // empty: "sdb"
	TargetBus string // empty: "scsi" ("virtio", "sata", ...)
	// EphemeralSecret keeps the libvirt secret's value in libvirtd's
	// memory only, never in its state directory; a libvirtd restart
	// forgets it (a running QEMU keeps its open disk, but the next start
	// of the domain needs a new attach).
	EphemeralSecret bool
	// Live attaches to the running domain and Config to its persistent
	// definition; both false means live only. AttachPlan ignores them.
	Live   bool
	Config bool
}

func (o AttachOptions) c(cs *cstrings) C.volcrypt_attach_options_t {
	var co C.volcrypt_attach_options_t
	co.struct_size = C.size_t(unsafe.Sizeof(co))
	co.target_dev = cs.str(o.TargetDev)
	co.target_bus = cs.str(o.TargetBus)
	co.ephemeral_secret = cbool(o.EphemeralSecret)
	co.live = cbool(o.Live)
	co.config = cbool(o.Config)
	return co
}

// AttachPlan is what a caller's own libvirt code needs: the secret XML,
// the disk XML and the passphrase to set as the secret's value (never in
// the XML). Wipe the passphrase when done.
type AttachPlan struct {
	SecretXML  string
	DiskXML    string
	Passphrase *Secret
}

// AttachPlan returns the attach plan of volume id. It is not read-only: a
// mapped volume created with DeferFormat and still blank is LUKS-formatted
// by this call; one holding any signature is never formatted (ErrExists).
// ErrBusy unless the volume is available or in use.
func (s *Service) AttachPlan(ctx context.Context, id string, o AttachOptions) (*AttachPlan, error) {
	const op = "volume_attach_plan_with_options"
	plan := &AttachPlan{}
	err := s.use(ctx, op, func(p unsafe.Pointer) error {
		var cs cstrings
		defer cs.free()
		cid := cs.str(id)
		co := o.c(&cs)
		var err error
		plan.Passphrase, err = secretCall(op, func(buf *C.uchar, n *C.size_t, errmsg **C.char) C.int {
			var sx, dx *C.char
			rc := C.volcrypt_volume_attach_plan_with_options((*C.volcrypt_service_t)(p), cid, &co,
				&sx, &dx, buf, n, errmsg)
			if rc == 0 {
				plan.SecretXML, plan.DiskXML = takeString(sx), takeString(dx)
			}
			return rc
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return plan, nil
}

// Attach attaches volume id to libvirt domain through the service's
// Attacher. ErrInvalid: a combination no engine can attach (LUKS2 with the
// qemu engine; a live hot-plug of a librbd-engine disk), before anything
// changes. ErrBusy unless the volume is available; ErrNotFound: no such
// volume or domain. On failure nothing is left in libvirt and the volume is
// available again.
func (s *Service) Attach(ctx context.Context, id, domain string, o AttachOptions) error {
	return s.call(ctx, "volume_attach_with_options",
		func(h *C.volcrypt_service_t, cs *cstrings, errmsg **C.char) C.int {
			co := o.c(cs)
			return C.volcrypt_volume_attach_with_options(h, cs.str(id), cs.str(domain), &co, errmsg)
		})
}

// Detach detaches volume id from wherever libvirt really has the disk; the
// libvirt secret goes when no disk uses it. ErrInvalid: it is not
// attached; ErrBusy: another operation is under way or the service has no
// Attacher; ErrUnavailable: libvirtd cannot be reached (a rerun or
// Reconcile finishes it).
func (s *Service) Detach(ctx context.Context, id string) error {
	return s.call(ctx, "volume_detach", func(h *C.volcrypt_service_t, cs *cstrings, errmsg **C.char) C.int {
		return C.volcrypt_volume_detach(h, cs.str(id), errmsg)
	})
}

// WritePassphraseFD writes volume id's LUKS passphrase to the open file
// descriptor fd (a pipe to `cryptsetup --key-file /dev/fd/N` or
// qemu-img's secret file), so no Go value ever holds it. Nothing else is
// written; fd stays open. The write blocks if fd is a blocking pipe
// without room; ctx is checked only before. ErrNotFound: no such volume or
// key; EPIPE: the reader went away; EBADF: fd is not open for writing; EIO:
// a short write.
func (s *Service) WritePassphraseFD(ctx context.Context, id string, fd int) error {
	return s.call(ctx, "volume_write_passphrase",
		func(h *C.volcrypt_service_t, cs *cstrings, errmsg **C.char) C.int {
			return C.volcrypt_volume_write_passphrase(h, cs.str(id), C.int(fd), errmsg)
		})
}

// WritePassphrase is WritePassphraseFD on f. A non-blocking pipe (as
// os.Pipe makes) that is full is waited for through Go's poller, and that
// wait ends when ctx is done (the passphrase is shorter than PIPE_BUF, so a
// pipe write is all or nothing and a retry never duplicates bytes). While
// it waits, f's write deadline is used and is reset to none afterwards.
func (s *Service) WritePassphrase(ctx context.Context, id string, f *os.File) error {
	const op = "volume_write_passphrase"
	rawConn, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("volcrypt %s: %w", op, err)
	}
	if ctx.Done() != nil {
		stop, exited := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(exited)
			select {
			case <-ctx.Done():
				_ = f.SetWriteDeadline(time.Unix(1, 0)) // wakes the poller's wait
			case <-stop:
			}
		}()
		// The watcher is gone before the deadline is reset, so it cannot
		// set a past deadline on the caller's file after this returns.
		defer func() { close(stop); <-exited; _ = f.SetWriteDeadline(time.Time{}) }()
	}
	var callErr error
	waitErr := rawConn.Write(func(fd uintptr) bool {
		callErr = s.WritePassphraseFD(ctx, id, int(fd))
		var st syscall.Stat_t
		if errors.Is(callErr, syscall.EAGAIN) && syscall.Fstat(int(fd), &st) == nil &&
			st.Mode&syscall.S_IFMT == syscall.S_IFIFO {
			return false // a full non-blocking pipe: nothing was written; wait
		}
		return true
	})
	if waitErr != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("volcrypt %s: waiting for room in the pipe: %w", op, ctx.Err())
		}
		return fmt.Errorf("volcrypt %s: %w", op, waitErr)
	}
	return callErr
}
