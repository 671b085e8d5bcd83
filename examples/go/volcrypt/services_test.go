//go:build volcrypt_services

// The package against a real Ceph cluster and libvirtd, which
// tests/scripts/go_services_test.sh starts and describes in the
// environment. Built only with -tags volcrypt_services.
package volcrypt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

type services struct {
	cephConf, uri, domain, cephSecret string
}

func servicesFromEnv(t *testing.T) services {
	s := services{os.Getenv("VOLCRYPT_CEPH_CONF"), os.Getenv("VOLCRYPT_LIBVIRT_URI"),
		os.Getenv("VOLCRYPT_DOMAIN"), os.Getenv("VOLCRYPT_CEPH_SECRET")}
	if s.cephConf == "" || s.uri == "" || s.domain == "" || s.cephSecret == "" {
		t.Fatal("run through tests/scripts/go_services_test.sh (VOLCRYPT_CEPH_CONF etc. unset)")
	}
	return s
}

func (s services) domainXML(t *testing.T) string {
	out, err := exec.Command("virsh", "-c", s.uri, "dumpxml", s.domain).CombinedOutput()
	if err != nil {
		t.Fatalf("virsh dumpxml: %v %s", err, out)
	}
	return string(out)
}

func rbdService(t *testing.T, s services) (*fixture, *Backend) {
	ctx := context.Background()
	f := &fixture{dir: t.TempDir()}
	if err := os.WriteFile(f.path("master.key"), []byte(strings.Repeat("77", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	if f.keys, err = OpenFileKeys(f.path("keys"), f.path("master.key")); err != nil {
		t.Fatal(err)
	}
	if f.store, err = OpenSQLiteStore(f.path("volumes.db")); err != nil {
		t.Fatal(err)
	}
	rbd, err := OpenRBDBackend(ctx, RBDOptions{CephConf: s.cephConf, TimeoutSeconds: 20,
		LibvirtAuthSecretUUID: s.cephSecret})
	if err != nil {
		t.Fatal(err)
	}
	virt, err := ConnectAttacher(ctx, s.uri)
	if err != nil {
		t.Fatal(err)
	}
	if f.svc, err = NewService(ServiceOptions{Keys: f.keys, Store: f.store, RBD: rbd, Attacher: virt, Host: "go"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, c := range []interface{ Close() error }{f.svc, virt, rbd, f.store, f.keys} {
			if err := c.Close(); err != nil {
				t.Error(err)
			}
		}
	})
	return f, rbd
}

func TestServicesRBDVolumeAttachesLiveSnapshotsClonesAndDetaches(t *testing.T) {
	ctx := context.Background()
	s := servicesFromEnv(t)
	f, _ := rbdService(t, s)
	vol, err := f.svc.CreateVolume(ctx, CreateRequest{ID: "r1", Pool: "rbd", Image: "volume-r1", SizeBytes: 32 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if vol.Backend != "rbd" || vol.Location.Pool != "rbd" || vol.Location.Image != "volume-r1" {
		t.Fatalf("record %+v", vol)
	}
	if err := f.svc.ExtendVolume(ctx, "r1", 48<<20); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Attach(ctx, "r1", s.domain, AttachOptions{Live: true, EphemeralSecret: true}); err != nil {
		t.Fatal(err)
	}
	if v, err := f.store.Volume(ctx, "r1"); err != nil || v.Status != "in-use" {
		t.Fatalf("after attach: %+v %v", v, err)
	}
	if x := s.domainXML(t); !strings.Contains(x, "rbd/volume-r1") || !strings.Contains(x, "<encryption") {
		t.Fatalf("the live domain has no encrypted rbd disk:\n%s", x)
	}
	if err := f.svc.DeleteVolume(ctx, "r1"); !errors.Is(err, ErrBusy) {
		t.Fatalf("deleting an attached volume: want ErrBusy, got %v", err)
	}
	snap, err := f.svc.CreateSnapshot(ctx, "r1", "s1")
	if err != nil || snap.VolumeID != "r1" || snap.EncryptionKeyID != vol.EncryptionKeyID {
		t.Fatalf("snapshot %+v %v", snap, err)
	}
	clone, err := f.svc.CloneVolume(ctx, "s1", "r2", "rbd", "volume-r2")
	if err != nil {
		t.Fatal(err)
	}
	if clone.EncryptionKeyID == vol.EncryptionKeyID {
		t.Fatal("the clone shares its parent's key id")
	}
	if slot, err := f.svc.VerifyVolume(ctx, "r2"); err != nil || slot != 0 {
		t.Fatalf("the clone's own key does not open its header: %d %v", slot, err)
	}
	if err := f.svc.DeleteSnapshot(ctx, "s1"); !errors.Is(err, ErrBusy) {
		t.Fatalf("deleting a snapshot a clone depends on: want ErrBusy, got %v", err)
	}
	if err := f.svc.DeleteVolume(ctx, "r2"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteSnapshot(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Detach(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if x := s.domainXML(t); strings.Contains(x, "volume-r1") {
		t.Fatalf("the disk is still in the domain:\n%s", x)
	}
	if err := f.svc.DeleteVolume(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Volume(ctx, "r1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("record left: %v", err)
	}
}

func TestServicesEightGoroutinesRunRBDVolumeLifecycles(t *testing.T) {
	ctx := context.Background()
	f, _ := rbdService(t, servicesFromEnv(t))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- func() error {
				id := fmt.Sprintf("g%d", i)
				if _, err := f.svc.CreateVolume(ctx, CreateRequest{ID: id, Pool: "rbd", Image: "volume-" + id,
					SizeBytes: 16 << 20}); err != nil {
					return err
				}
				plan, err := f.svc.AttachPlan(ctx, id, AttachOptions{})
				if err != nil {
					return err
				}
				plan.Passphrase.Wipe()
				if !strings.Contains(plan.DiskXML, "rbd/volume-"+id) {
					return fmt.Errorf("%s: disk XML %s", id, plan.DiskXML)
				}
				if slot, err := f.svc.VerifyVolume(ctx, id); err != nil || slot != 0 {
					return fmt.Errorf("%s: verify %d %v", id, slot, err)
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
	if left, err := f.store.Volumes(ctx); err != nil || len(left) != 0 {
		t.Fatalf("records left: %+v %v", left, err)
	}
}

func TestServicesBarbicanKeyAndPostgresRecordCarryAnRBDVolume(t *testing.T) {
	ctx := context.Background()
	s := servicesFromEnv(t)
	endpoint, conninfo := os.Getenv("VOLCRYPT_BARBICAN_URL"), os.Getenv("VOLCRYPT_PG_CONNINFO")
	if endpoint == "" || conninfo == "" {
		t.Fatal("VOLCRYPT_BARBICAN_URL or VOLCRYPT_PG_CONNINFO unset")
	}
	keys, err := OpenBarbicanKeys(ctx, BarbicanOptions{Endpoint: endpoint, ProjectID: "go-project", TimeoutSeconds: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	store, err := OpenPostgresStore(ctx, conninfo)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rbd, err := OpenRBDBackend(ctx, RBDOptions{CephConf: s.cephConf, LibvirtAuthSecretUUID: s.cephSecret})
	if err != nil {
		t.Fatal(err)
	}
	defer rbd.Close()
	svc, err := NewService(ServiceOptions{Keys: keys, Store: store, RBD: rbd, Host: "go-pg"})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	vol, err := svc.CreateVolume(ctx, CreateRequest{ID: "pb1", Pool: "rbd", Image: "volume-pb1", SizeBytes: 16 << 20,
		ProjectID: "go-project"})
	if err != nil {
		t.Fatal(err)
	}
	// Another handle on the shared database sees the record.
	other, err := OpenPostgresStore(ctx, conninfo)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if v, err := other.Volume(ctx, "pb1"); err != nil || v.EncryptionKeyID != vol.EncryptionKeyID || v.Host != "go-pg" {
		t.Fatalf("from another store handle: %+v %v", v, err)
	}
	key, err := keys.GetKey(ctx, vol.EncryptionKeyID)
	if err != nil || key.Len() == 0 {
		t.Fatalf("the volume's key in Barbican: %v %v", key, err)
	}
	key.Wipe()
	if slot, err := svc.VerifyVolume(ctx, "pb1"); err != nil || slot != 0 {
		t.Fatalf("verify: %d %v", slot, err)
	}
	if err := svc.DeleteVolume(ctx, "pb1"); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.GetKey(ctx, vol.EncryptionKeyID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the key outlived its volume: %v", err)
	}
	if _, err := other.Volume(ctx, "pb1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the record outlived its volume: %v", err)
	}
}

func TestServicesCephSecretIsDefinedFromTheKeyringAndChecked(t *testing.T) {
	ctx := context.Background()
	s := servicesFromEnv(t)
	virt, err := ConnectAttacher(ctx, s.uri)
	if err != nil {
		t.Fatal(err)
	}
	defer virt.Close()
	o := RBDOptions{CephConf: s.cephConf, LibvirtAuthSecretUUID: s.cephSecret}
	uuid, err := virt.DefineCephSecret(ctx, o)
	if err != nil || uuid != s.cephSecret {
		t.Fatalf("DefineCephSecret = %q, %v; want %q", uuid, err, s.cephSecret)
	}
	if err := virt.CheckCephSecret(ctx, o); err != nil {
		t.Fatal(err)
	}
	o.LibvirtAuthSecretUUID = "c3c3c3c3-0000-4000-8000-0000000000fd"
	if err := virt.CheckCephSecret(ctx, o); !errors.Is(err, ErrNotFound) {
		t.Fatalf("checking a missing secret: want ErrNotFound, got %v", err)
	}
	// libvirt allows one secret per usage name: a second UUID is refused.
	if _, err := virt.DefineCephSecret(ctx, o); !errors.Is(err, ErrExists) {
		t.Fatalf("a second ceph secret for client.admin: want ErrExists, got %v", err)
	}
}
