package volcrypt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

type fixture struct {
	dir    string
	keys   *Keys
	store  *Store
	mapped *Backend
	svc    *Service
}

func (f *fixture) path(name string) string { return filepath.Join(f.dir, name) }

func setup(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	master := f.path("master.key")
	if err := os.WriteFile(master, []byte(strings.Repeat("22", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	if f.keys, err = OpenFileKeys(f.path("keys"), master); err != nil {
		t.Fatal(err)
	}
	if f.store, err = OpenSQLiteStore(f.path("volumes.db")); err != nil {
		t.Fatal(err)
	}
	if f.mapped, err = OpenMappedBackend(); err != nil {
		t.Fatal(err)
	}
	if f.svc, err = NewService(ServiceOptions{Keys: f.keys, Store: f.store, Mapped: f.mapped, Host: "go"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, c := range []interface{ Close() error }{f.svc, f.mapped, f.store, f.keys} {
			if err := c.Close(); err != nil {
				t.Error(err)
			}
		}
	})
	return f
}

func (f *fixture) create(t *testing.T, id string) *Volume {
	t.Helper()
	v, err := f.svc.CreateVolume(context.Background(), CreateRequest{ID: id, Path: f.path(id), SizeBytes: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestScenarioCreatePlanVerifyExtendDelete(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	vol, err := f.svc.CreateVolume(ctx, CreateRequest{ID: "v1", Path: f.path("v1"), SizeBytes: 16 << 20,
		Format: "luks1", Cipher: "aes-xts-plain64", KeyBits: 256, UserID: "u", ProjectID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if vol.Status != "available" || vol.Host != "go" || vol.Backend != "mapped" ||
		vol.Location.Path != f.path("v1") || len(vol.EncryptionKeyID) != 36 ||
		vol.Encryption.Provider != "luks" || vol.Encryption.KeySize != 256 || vol.ProjectID != "p" ||
		vol.CreatedAt.IsZero() {
		t.Fatalf("unexpected record %+v", vol)
	}
	plan, err := f.svc.AttachPlan(ctx, "v1", AttachOptions{TargetDev: "vdc", TargetBus: "virtio", EphemeralSecret: true})
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Passphrase.Wipe()
	if !strings.Contains(plan.SecretXML, `ephemeral="yes"`) || !strings.Contains(plan.DiskXML, `dev="vdc"`) ||
		!strings.Contains(plan.DiskXML, `bus="virtio"`) {
		t.Fatalf("plan XML: %s %s", plan.SecretXML, plan.DiskXML)
	}
	if plan.Passphrase.Len() != 64 || strings.Contains(plan.DiskXML+plan.SecretXML, string(plan.Passphrase.Bytes())) {
		t.Fatal("passphrase missing or leaked into XML")
	}
	if slot, err := VerifyPassphrase(f.path("v1"), plan.Passphrase.Bytes()); err != nil || slot != 0 {
		t.Fatalf("VerifyPassphrase: %d %v", slot, err)
	}
	if slot, err := f.svc.VerifyVolume(ctx, "v1"); err != nil || slot != 0 {
		t.Fatalf("VerifyVolume: %d %v", slot, err)
	}
	if err := f.svc.ExtendVolume(ctx, "v1", 32<<20); err != nil {
		t.Fatal(err)
	}
	info, err := InspectLUKS(f.path("v1"))
	if err != nil || info.Version != 1 || info.PayloadBytes != 32<<20 || len(info.Keyslots) != 1 {
		t.Fatalf("InspectLUKS: %+v %v", info, err)
	}
	all, err := f.store.Volumes(ctx)
	if err != nil || len(all) != 1 || all[0].SizeBytes != 32<<20 {
		t.Fatalf("Volumes: %+v %v", all, err)
	}
	if err := f.svc.DeleteVolume(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.path("v1")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("volume file left behind")
	}
	if all, err := f.store.Volumes(ctx); err != nil || len(all) != 0 {
		t.Fatalf("Volumes after delete: %+v %v", all, err)
	}
}

func TestWritePassphraseHandsThePlansPassphraseToAPipe(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	f.create(t, "v1")
	plan, err := f.svc.AttachPlan(ctx, "v1", AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Passphrase.Wipe()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.WritePassphrase(ctx, "v1", w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(got) != string(plan.Passphrase.Bytes()) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	// The reader went away: EPIPE, and the process is not killed by SIGPIPE.
	r, w, _ = os.Pipe()
	r.Close()
	if err := f.svc.WritePassphrase(ctx, "v1", w); !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("want EPIPE, got %v", err)
	}
	w.Close()
	if err := f.svc.WritePassphraseFD(ctx, "nope", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
}

func TestWritePassphraseToAFullPipeEndsWhenTheContextIsDone(t *testing.T) {
	f := setup(t)
	f.create(t, "v1")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	filler := make([]byte, 1<<20)
	w.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	for {
		if _, err := w.Write(filler); err != nil {
			break // the pipe is full
		}
	}
	w.SetWriteDeadline(time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.svc.WritePassphrase(ctx, "v1", w) }()
	// Without the cancellation the call would wait forever (go test's
	// timeout then fails the test).
	time.AfterFunc(200*time.Millisecond, cancel)
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "waiting for room") {
		t.Fatalf("want context.Canceled while waiting, got %v", err)
	}
	// The caller's file is left without the deadline used to wake the wait.
	r.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	for {
		if _, err := r.Read(filler); err != nil {
			break // drained
		}
	}
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatalf("the pipe kept a deadline: %v", err)
	}
}

func TestSnapshotOfAMappedVolumeIsNotSupported(t *testing.T) {
	f := setup(t)
	f.create(t, "v1")
	_, err := f.svc.CreateSnapshot(context.Background(), "v1", "s1")
	if !errors.Is(err, ErrNotSupported) || !errors.Is(err, syscall.ENOTSUP) {
		t.Fatalf("want ErrNotSupported, got %v", err)
	}
	if err := f.svc.DeleteSnapshot(context.Background(), "s1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	_, err = f.svc.CloneVolume(context.Background(), "s1", "c1", "pool", "img")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
}

func TestAttachWithoutAnAttacherIsRefusedAndLeavesTheVolumeAvailable(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	f.create(t, "v1")
	err := f.svc.Attach(ctx, "v1", "dom", AttachOptions{Live: true})
	// The C library reports a missing attacher as a failed precondition.
	var verr *Error
	if !errors.As(err, &verr) || verr.Op != "volume_attach_with_options" || !errors.Is(err, ErrBusy) ||
		!strings.Contains(verr.Message, "attacher") {
		t.Fatalf("want ErrBusy naming the attacher, got %v", err)
	}
	if v, err := f.store.Volume(ctx, "v1"); err != nil || v.Status != "available" {
		t.Fatalf("after a refused attach: %+v %v", v, err)
	}
	if err := f.svc.Detach(ctx, "v1"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("detaching a volume that is not attached: want ErrInvalid, got %v", err)
	}
}

func TestReconcileUndoesAnInterruptedCreate(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	f.create(t, "v1")
	// As a crash before the create's last step leaves it.
	if out, err := exec.Command("sqlite3", f.path("volumes.db"),
		"UPDATE volumes SET status = 'creating' WHERE id = 'v1'").CombinedOutput(); err != nil {
		t.Fatalf("sqlite3: %v %s", err, out)
	}
	acted, err := f.svc.Reconcile(ctx, 0)
	if err != nil || acted != 1 {
		t.Fatalf("reconcile: %d %v", acted, err)
	}
	if _, err := f.store.Volume(ctx, "v1"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("record left: %v", err)
	}
	if _, err := os.Stat(f.path("v1")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("volume file left behind")
	}
	if keys, _ := filepath.Glob(f.path("keys/*.key")); len(keys) != 0 {
		t.Fatalf("keys left behind: %v", keys)
	}
}

func TestErrorsCarryTheErrnoAndMatchTheSentinels(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	err := f.svc.DeleteVolume(ctx, "nope")
	if !errors.Is(err, syscall.ENOENT) || !errors.Is(err, ErrNotFound) || !errors.Is(err, fs.ErrNotExist) ||
		errors.Is(err, ErrBusy) {
		t.Fatalf("want ENOENT, got %v", err)
	}
	var verr *Error
	if !errors.As(err, &verr) || verr.Op != "volume_delete" || !strings.Contains(verr.Message, "nope") {
		t.Fatalf("want *Error naming the volume, got %#v", err)
	}
	_, err = f.svc.CreateVolume(ctx, CreateRequest{Path: f.path("x"), SizeBytes: 1000})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("a size that is not a multiple of the sector: want ErrInvalid, got %v", err)
	}
	_, err = f.svc.CreateVolume(ctx, CreateRequest{Path: f.path("x"), SizeBytes: 1<<64 - 512})
	if !errors.Is(err, ErrSizeOutOfRange) {
		t.Fatalf("a size too large: want ErrSizeOutOfRange, got %v", err)
	}
	f.create(t, "v")
	if _, err := f.svc.CreateVolume(ctx, CreateRequest{ID: "v", Path: f.path("v2"), SizeBytes: 8 << 20}); !errors.Is(err, ErrExists) {
		t.Fatalf("want ErrExists, got %v", err)
	}
	if _, err := VerifyPassphrase(f.path("v"), []byte(strings.Repeat("0", 64))); !errors.Is(err, ErrPermission) ||
		!errors.Is(err, syscall.EPERM) {
		t.Fatalf("want EPERM, got %v", err)
	}
	if _, err := InspectLUKS(f.path("master.key")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("want ErrInvalid for a file that is not LUKS, got %v", err)
	}
	if err := f.keys.DeleteKey(ctx, "11111111-2222-3333-4444-555555555555"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
}

func TestACanceledContextStartsNothing(t *testing.T) {
	f := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.svc.CreateVolume(ctx, CreateRequest{ID: "v1", Path: f.path("v1"), SizeBytes: 16 << 20})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if _, err := os.Stat(f.path("v1")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a canceled create made the volume")
	}
	if _, err := f.store.Volume(context.Background(), "v1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a canceled create left a record: %v", err)
	}
}

func TestCloseWaitsForBorrowersAndLaterCallsFailWithErrClosed(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	if err := f.keys.Close(); !errors.Is(err, ErrBorrowed) {
		t.Fatalf("closing borrowed keys: want ErrBorrowed, got %v", err)
	}
	if _, err := f.keys.CreateKey(ctx, "still-open", 0); err != nil {
		t.Fatalf("keys were closed under the service: %v", err)
	}
	if err := f.svc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := f.svc.VerifyVolume(ctx, "v1"); !errors.Is(err, ErrClosed) {
		t.Fatalf("want ErrClosed, got %v", err)
	}
	if err := f.mapped.Close(); err != nil {
		t.Fatalf("the mapped backend is no longer borrowed: %v", err)
	}
	mapped, err := OpenMappedBackend()
	if err != nil {
		t.Fatal(err)
	}
	defer mapped.Close()
	again, err := NewService(ServiceOptions{Keys: f.keys, Store: f.store, Mapped: mapped})
	if err != nil {
		t.Fatal(err) // a new service may borrow them again
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewService(ServiceOptions{Keys: f.keys, Store: f.store, Mapped: f.mapped}); !errors.Is(err, ErrClosed) {
		t.Fatalf("a service over a closed backend: want ErrClosed, got %v", err)
	}
}

func TestEightGoroutinesCreatePlanVerifyDeleteWhileCloseRaces(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- func() error {
				id := fmt.Sprintf("c%d", i)
				if _, err := f.svc.CreateVolume(ctx, CreateRequest{ID: id, Path: f.path(id), SizeBytes: 8 << 20}); err != nil {
					return err
				}
				plan, err := f.svc.AttachPlan(ctx, id, AttachOptions{})
				if err != nil {
					return err
				}
				defer plan.Passphrase.Wipe()
				if slot, err := f.svc.VerifyVolume(ctx, id); err != nil || slot != 0 {
					return fmt.Errorf("verify %s: %d %v", id, slot, err)
				}
				return f.svc.DeleteVolume(ctx, id)
			}()
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// Close racing calls: each call either runs on the open handle or
	// fails with ErrClosed; none touches a freed one.
	f.create(t, "v")
	var racers sync.WaitGroup
	for i := 0; i < 8; i++ {
		racers.Add(1)
		go func() {
			defer racers.Done()
			for j := 0; j < 20; j++ {
				if _, err := f.svc.VerifyVolume(ctx, "v"); err != nil && !errors.Is(err, ErrClosed) {
					t.Error(err)
					return
				}
			}
		}()
	}
	if err := f.svc.Close(); err != nil {
		t.Error(err)
	}
	racers.Wait()
}

func TestSecretsNeverPrint(t *testing.T) {
	s := NewSecret([]byte("hunter2-hunter2"))
	for _, text := range []string{fmt.Sprint(s), fmt.Sprintf("%x %q %#v %+v %s", s, s, s, s, s)} {
		if strings.Contains(text, "hunter2") || strings.Contains(text, "68756e746572") {
			t.Fatalf("printed: %s", text)
		}
	}
	j, _ := json.Marshal(struct{ S *Secret }{s})
	if string(j) != `{"S":"[redacted 15 bytes]"}` {
		t.Fatalf("JSON: %s", j)
	}
	s.Wipe()
	for _, b := range s.Bytes() {
		if b != 0 {
			t.Fatal("not wiped")
		}
	}
}

func TestKeysCreateGetDeleteAndTheFixedKey(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	id, err := f.keys.CreateKey(ctx, "k", 512)
	if err != nil {
		t.Fatal(err)
	}
	key, err := f.keys.GetKey(ctx, id)
	if err != nil || key.Len() != 64 {
		t.Fatalf("GetKey: %v %v", key, err)
	}
	key.Wipe()
	if err := f.keys.DeleteKey(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := f.keys.GetKey(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	fixedPath := f.path("fixed_key")
	if err := os.WriteFile(fixedPath, []byte(strings.Repeat("cd", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fixed, err := OpenFixedKeys(fixedPath)
	if err != nil {
		t.Fatal(err)
	}
	defer fixed.Close()
	id, err = fixed.CreateKey(ctx, "x", 256)
	if err != nil || id != "00000000-0000-0000-0000-000000000000" {
		t.Fatalf("%s %v", id, err)
	}
	key, err = fixed.GetKey(ctx, id)
	if err != nil || key.Len() != 32 || key.Bytes()[0] != 0xcd {
		t.Fatalf("%v %v", key, err)
	}
	key.Wipe()
}

func TestMasterKeyReadableByOthersIsRefused(t *testing.T) {
	dir := t.TempDir()
	master := filepath.Join(dir, "master.key")
	if err := os.WriteFile(master, []byte(strings.Repeat("22", 32)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFileKeys(filepath.Join(dir, "keys"), master); !errors.Is(err, ErrPermission) {
		t.Fatalf("want ErrPermission, got %v", err)
	}
}

// builtWithout tells whether err is the refusal of a library built without
// that backend (meson option rbd, libvirt, barbican or postgres disabled).
func builtWithout(err error, option string) bool {
	return errors.Is(err, ErrNotSupported) && strings.Contains(err.Error(), "-D"+option+"=enabled")
}

func TestUnreachableServicesAreUnavailable(t *testing.T) {
	ctx := context.Background()
	keys, err := OpenBarbicanKeys(ctx, BarbicanOptions{Endpoint: "http://127.0.0.1:1", ProjectID: "p",
		TimeoutSeconds: 2, MaxAttempts: 1})
	if builtWithout(err, "barbican") {
		t.Log("built without Barbican: refused as such")
	} else if err != nil {
		t.Fatal(err)
	} else {
		defer keys.Close()
		if _, err := keys.CreateKey(ctx, "k", 256); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Barbican: want ErrUnavailable, got %v", err)
		}
	}
	if _, err := OpenPostgresStore(ctx, "host=127.0.0.1 port=1 dbname=x connect_timeout=2"); !errors.Is(err, ErrUnavailable) && !builtWithout(err, "postgres") {
		t.Fatalf("PostgreSQL: want ErrUnavailable, got %v", err)
	}
}

func TestMissingCephConfAndLibvirtSocketAreReported(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := OpenRBDBackend(ctx, RBDOptions{CephConf: filepath.Join(dir, "ceph.conf"), TimeoutSeconds: 2}); !errors.Is(err, ErrNotFound) && !builtWithout(err, "rbd") {
		t.Fatalf("RBD without its ceph.conf: want ErrNotFound, got %v", err)
	}
	if _, err := ConnectAttacher(ctx, "qemu:///system?socket="+filepath.Join(dir, "sock")); !errors.Is(err, ErrUnavailable) && !builtWithout(err, "libvirt") {
		t.Fatalf("libvirtd without its socket: want ErrUnavailable, got %v", err)
	}
}

func TestWithCHandleLendsThePointerUntilClose(t *testing.T) {
	f := setup(t)
	sentinel := errors.New("from fn")
	var seen uintptr
	err := f.store.WithCHandle(func(p unsafe.Pointer) error { seen = uintptr(p); return sentinel })
	if err != sentinel || seen == 0 {
		t.Fatalf("fn's error %v, pointer %x", err, seen)
	}
	if err := f.svc.Close(); err != nil {
		t.Fatal(err)
	}
	called := false
	if err := f.svc.WithCHandle(func(unsafe.Pointer) error { called = true; return nil }); !errors.Is(err, ErrClosed) || called {
		t.Fatalf("after Close: %v, fn called %v", err, called)
	}
}

func TestVersionMatchesTheHeader(t *testing.T) {
	if Version() != HeaderVersion {
		t.Fatalf("library %s, header %s", Version(), HeaderVersion)
	}
}

func TestAStringWithANulByteIsRefusedNotCutShort(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	f.create(t, "v1")
	// C would read "v1\x00x" as "v1" and delete that volume.
	err := f.svc.DeleteVolume(ctx, "v1\x00x")
	var verr *Error
	if !errors.As(err, &verr) || verr.Op != "volume_delete" || !errors.Is(err, ErrInvalid) {
		t.Fatalf("want ErrInvalid from volume_delete, got %v", err)
	}
	if _, err := f.store.Volume(ctx, "v1"); err != nil {
		t.Fatalf("v1 was touched: %v", err)
	}
	if _, err := os.Stat(f.path("v1")); err != nil {
		t.Fatalf("v1's file was touched: %v", err)
	}
	// Refused before anything is borrowed: the fixture's Close of these
	// handles fails with ErrBorrowed if a borrow leaked.
	if _, err := NewService(ServiceOptions{Keys: f.keys, Store: f.store, Mapped: f.mapped, Host: "h\x00"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("NewService: want ErrInvalid, got %v", err)
	}
	if _, err := OpenFileKeys(f.path("keys")+"\x00/elsewhere", f.path("master.key")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("OpenFileKeys: want ErrInvalid, got %v", err)
	}
	if _, err := MigrateFixedKeys(ctx, f.store, nil, f.keys, MigrationOptions{Host: "go\x00"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("MigrateFixedKeys: want ErrInvalid, got %v", err)
	}
	if _, err := f.svc.AttachPlan(ctx, "v1", AttachOptions{TargetDev: "sdb\x00"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("AttachPlan: want ErrInvalid, got %v", err)
	}
}

func TestUnmanageThenManageWithTheKeyID(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	made := f.create(t, "v1")
	if err := f.svc.UnmanageVolume(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Volume(ctx, "v1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("record left: %v", err)
	}
	wrong := make([]byte, 32)
	if _, err := f.svc.ManageVolume(ctx, ManageRequest{ID: "v2", Path: f.path("v1"), Key: wrong}); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("a wrong key: %v", err)
	}
	vol, err := f.svc.ManageVolume(ctx, ManageRequest{ID: "v2", Path: f.path("v1"), KeyID: made.EncryptionKeyID})
	if err != nil || vol.Status != "available" || vol.SizeBytes != 16<<20 || vol.KeyFormat != "hex" {
		t.Fatalf("manage: %+v %v", vol, err)
	}
	if _, err := f.svc.ManageVolume(ctx, ManageRequest{ID: "v3", Path: f.path("v1"), KeyID: made.EncryptionKeyID}); !errors.Is(err, ErrExists) {
		t.Fatalf("a location managed twice: %v", err)
	}
	if _, err := f.svc.ManageVolume(ctx, ManageRequest{ID: "v4", Path: f.path("v1"), KeyID: "x", Key: wrong}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("two ways to open it: %v", err)
	}
	id, err := f.keys.StoreKey(ctx, wrong, "given")
	if err != nil || len(id) != 36 {
		t.Fatalf("store key: %q %v", id, err)
	}
	if _, err := f.keys.StoreKey(ctx, nil, "empty"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an empty key: %v", err)
	}
}
