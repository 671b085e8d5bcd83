package volcrypt_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"volcrypt.dev/go/volcrypt"
)

// stack opens file keys, a SQLite store and the mapped backend in a
// scratch directory, as a host agent opens its real ones.
func stack(dir string) (*volcrypt.Service, func()) {
	master := filepath.Join(dir, "master.key")
	if err := os.WriteFile(master, []byte(strings.Repeat("5a", 32)), 0o600); err != nil {
		log.Fatal(err)
	}
	keys, err := volcrypt.OpenFileKeys(filepath.Join(dir, "keys"), master)
	if err != nil {
		log.Fatal(err)
	}
	store, err := volcrypt.OpenSQLiteStore(filepath.Join(dir, "volumes.db"))
	if err != nil {
		log.Fatal(err)
	}
	mapped, err := volcrypt.OpenMappedBackend()
	if err != nil {
		log.Fatal(err)
	}
	svc, err := volcrypt.NewService(volcrypt.ServiceOptions{Keys: keys, Store: store, Mapped: mapped, Host: "example"})
	if err != nil {
		log.Fatal(err)
	}
	return svc, func() { svc.Close(); mapped.Close(); store.Close(); keys.Close() }
}

// The whole life of a file volume: create, plan an attach for the caller's
// own libvirt code, check the passphrase against the header, delete.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "volcrypt-example-")
	defer os.RemoveAll(dir)
	svc, closeAll := stack(dir)
	defer closeAll()

	vol, err := svc.CreateVolume(ctx, volcrypt.CreateRequest{
		ID: "v1", Path: filepath.Join(dir, "v1"), SizeBytes: 16 << 20})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(vol.ID, vol.Status, vol.Backend, vol.Encryption.Provider, vol.SizeBytes)

	plan, err := svc.AttachPlan(ctx, "v1", volcrypt.AttachOptions{TargetDev: "vdb", TargetBus: "virtio"})
	if err != nil {
		log.Fatal(err)
	}
	defer plan.Passphrase.Wipe()
	fmt.Println(strings.Contains(plan.DiskXML, `<target dev="vdb" bus="virtio"/>`), plan.Passphrase)

	slot, err := volcrypt.VerifyPassphrase(vol.Location.Path, plan.Passphrase.Bytes())
	fmt.Println("keyslot", slot, err)

	fmt.Println(svc.DeleteVolume(ctx, "v1"))
	// Output:
	// v1 available mapped luks 16777216
	// true [redacted 64 bytes]
	// keyslot 0 <nil>
	// <nil>
}

// Errors carry the errno: match them with errors.Is against syscall.Errno
// values or the package's sentinels.
func ExampleError() {
	dir, _ := os.MkdirTemp("", "volcrypt-example-")
	defer os.RemoveAll(dir)
	svc, closeAll := stack(dir)
	defer closeAll()

	err := svc.DeleteVolume(context.Background(), "missing")
	var verr *volcrypt.Error
	if errors.As(err, &verr) {
		fmt.Println(verr.Op, verr.Errno == 2, errors.Is(err, volcrypt.ErrNotFound), errors.Is(err, volcrypt.ErrBusy))
	}
	// Output: volume_delete true true false
}

// A volume's passphrase goes to a pipe (here read back; in practice
// `cryptsetup --key-file /dev/fd/3` or qemu-img reads it) without a Go
// value ever holding it.
func ExampleService_WritePassphrase() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "volcrypt-example-")
	defer os.RemoveAll(dir)
	svc, closeAll := stack(dir)
	defer closeAll()
	if _, err := svc.CreateVolume(ctx, volcrypt.CreateRequest{ID: "v1", Path: filepath.Join(dir, "v1"), SizeBytes: 16 << 20}); err != nil {
		log.Fatal(err)
	}

	r, w, err := os.Pipe()
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	err = svc.WritePassphrase(ctx, "v1", w)
	w.Close()
	passphrase, _ := io.ReadAll(r)
	fmt.Println(err, len(passphrase))
	volcrypt.NewSecret(passphrase).Wipe()
	// Output: <nil> 64
}

// Secrets print redacted, whatever the verb.
func ExampleSecret() {
	s := volcrypt.NewSecret([]byte("swordfish"))
	defer s.Wipe()
	fmt.Printf("%v %x %#v\n", s, s, s)
	// Output: [redacted 9 bytes] [redacted 9 bytes] [redacted 9 bytes]
}

// Moving volumes off castellan's fixed key to a real key manager, with a
// progress callback.
func ExampleMigrateFixedKeys() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "volcrypt-example-")
	defer os.RemoveAll(dir)
	fixedPath := filepath.Join(dir, "fixed_key")
	master := filepath.Join(dir, "master.key")
	os.WriteFile(fixedPath, []byte(strings.Repeat("ab", 32)), 0o600)
	os.WriteFile(master, []byte(strings.Repeat("5a", 32)), 0o600)
	fixed, _ := volcrypt.OpenFixedKeys(fixedPath)
	defer fixed.Close()
	dest, _ := volcrypt.OpenFileKeys(filepath.Join(dir, "keys"), master)
	defer dest.Close()
	store, _ := volcrypt.OpenSQLiteStore(filepath.Join(dir, "volumes.db"))
	defer store.Close()
	// A volume made under the fixed key, as an old deployment has them.
	mapped, _ := volcrypt.OpenMappedBackend()
	defer mapped.Close()
	old, _ := volcrypt.NewService(volcrypt.ServiceOptions{Keys: fixed, Store: store, Mapped: mapped, Host: "example"})
	old.CreateVolume(ctx, volcrypt.CreateRequest{ID: "legacy", Path: filepath.Join(dir, "legacy"), SizeBytes: 8 << 20})
	old.Close()

	report, err := volcrypt.MigrateFixedKeys(ctx, store, fixed, dest, volcrypt.MigrationOptions{
		Host: "example",
		OnItem: func(item volcrypt.MigrationItem, done, total int) {
			fmt.Printf("%s %s %d/%d\n", item.ID, item.Outcome, done, total)
		},
	})
	fmt.Println(report.Migrated, report.VolumesRemaining, err)
	// Output:
	// legacy migrated 1/1
	// 1 0 <nil>
}

// Barbican with a Keystone password; the endpoint comes from the catalog.
// Not run: it needs the services.
func ExampleOpenBarbicanKeys() {
	keys, err := volcrypt.OpenBarbicanKeys(context.Background(), volcrypt.BarbicanOptions{
		AuthURL: "https://keystone:5000/v3", Username: "cinder", Password: os.Getenv("OS_PASSWORD"),
		ProjectName: "service", TimeoutSeconds: 5,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
}

// An rbd volume attached live to a running domain, then a snapshot and a
// clone. Not run: it needs Ceph and libvirtd.
func ExampleService_Attach() {
	ctx := context.Background()
	keys, _ := volcrypt.OpenFileKeys("/var/lib/vc/keys", "/var/lib/vc/master.key")
	defer keys.Close()
	store, _ := volcrypt.OpenSQLiteStore("/var/lib/vc/volumes.db")
	defer store.Close()
	rbd, err := volcrypt.OpenRBDBackend(ctx, volcrypt.RBDOptions{ClientID: "cinder", TimeoutSeconds: 10,
		LibvirtAuthSecretUUID: "5b3a2e52-0c1e-4a8e-9d4b-2f4b9f5e7a11"})
	if err != nil {
		log.Fatal(err)
	}
	defer rbd.Close()
	virt, err := volcrypt.ConnectAttacher(ctx, "qemu:///system")
	if err != nil {
		log.Fatal(err)
	}
	defer virt.Close()
	svc, _ := volcrypt.NewService(volcrypt.ServiceOptions{Keys: keys, Store: store, RBD: rbd, Attacher: virt})
	defer svc.Close()

	if _, err := svc.CreateVolume(ctx, volcrypt.CreateRequest{ID: "r1", Pool: "volumes", Image: "volume-r1", SizeBytes: 1 << 30}); err != nil {
		log.Fatal(err)
	}
	if err := svc.Attach(ctx, "r1", "instance-0001", volcrypt.AttachOptions{Live: true, TargetBus: "virtio", EphemeralSecret: true}); err != nil {
		log.Fatal(err)
	}
	if _, err := svc.CreateSnapshot(ctx, "r1", "s1"); err != nil {
		log.Fatal(err)
	}
	if _, err := svc.CloneVolume(ctx, "s1", "r2", "volumes", "volume-r2"); err != nil {
		log.Fatal(err)
	}
}
