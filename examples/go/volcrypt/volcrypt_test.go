package volcrypt

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func setup(t *testing.T) (string, *Service) {
	dir := t.TempDir()
	master := filepath.Join(dir, "master.key")
	if err := os.WriteFile(master, []byte(strings.Repeat("22", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := OpenFileKeys(filepath.Join(dir, "keys"), master)
	if err != nil {
		t.Fatal(err)
	}
	store, err := OpenSqliteStore(filepath.Join(dir, "volumes.db"))
	if err != nil {
		t.Fatal(err)
	}
	mapped, err := OpenMappedBackend()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(ServiceOptions{Keys: keys, Store: store, Mapped: mapped, Host: "go"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(); mapped.Close(); store.Close(); keys.Close() })
	return dir, svc
}

func TestScenarioCreatePlanVerifyDelete(t *testing.T) {
	dir, svc := setup(t)
	path := filepath.Join(dir, "v1")
	vol, err := svc.CreateVolume(CreateRequest{ID: "v1", Path: path, SizeBytes: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if vol.Status != "available" || vol.Host != "go" || len(vol.EncryptionKeyID) != 36 {
		t.Fatalf("unexpected record %+v", vol)
	}
	got, err := svc.opts.Store.Volume("v1")
	if err != nil || got.EncryptionKeyID != vol.EncryptionKeyID {
		t.Fatalf("store: %+v, %v", got, err)
	}
	plan, err := svc.AttachPlan("v1", "sdc")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.SecretXML, `private="yes"`) || !strings.Contains(plan.DiskXML, `dev="sdc"`) {
		t.Fatalf("plan XML: %s %s", plan.SecretXML, plan.DiskXML)
	}
	if len(plan.Passphrase.Bytes()) != 64 || strings.Contains(plan.DiskXML, string(plan.Passphrase.Bytes())) {
		t.Fatal("passphrase missing or leaked into XML")
	}
	if plan.Passphrase.String() != "[redacted 64 bytes]" {
		t.Fatal("secret printed")
	}
	slot, err := VerifyPassphrase(path, plan.Passphrase)
	if err != nil || slot != 0 {
		t.Fatalf("verify: %d %v", slot, err)
	}
	plan.Passphrase.Wipe()
	if err := svc.DeleteVolume("v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("volume file left behind")
	}
}

func TestReconcileUndoesAnInterruptedCreate(t *testing.T) {
	dir, svc := setup(t)
	path := filepath.Join(dir, "v1")
	if _, err := svc.CreateVolume(CreateRequest{ID: "v1", Path: path, SizeBytes: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	// As a crash before the create's last step leaves it.
	if out, err := exec.Command("sqlite3", filepath.Join(dir, "volumes.db"),
		"UPDATE volumes SET status = 'creating' WHERE id = 'v1'").CombinedOutput(); err != nil {
		t.Fatalf("sqlite3: %v %s", err, out)
	}
	acted, err := svc.Reconcile(0)
	if err != nil || acted != 1 {
		t.Fatalf("reconcile: %d %v", acted, err)
	}
	if _, err := svc.opts.Store.Volume("v1"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("record left: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("volume file left behind")
	}
	keys, _ := filepath.Glob(filepath.Join(dir, "keys", "*.key"))
	if len(keys) != 0 {
		t.Fatalf("keys left behind: %v", keys)
	}
}

func TestErrorsCarryErrno(t *testing.T) {
	dir, svc := setup(t)
	err := svc.DeleteVolume("nope")
	if !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("want ENOENT, got %v", err)
	}
	var verr *Error
	if !errors.As(err, &verr) || !strings.Contains(verr.Message, "nope") {
		t.Fatalf("want *Error naming the volume, got %v", err)
	}
	_, err = svc.CreateVolume(CreateRequest{Path: filepath.Join(dir, "x"), SizeBytes: 1000})
	if !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("want EINVAL, got %v", err)
	}
	path := filepath.Join(dir, "v")
	if _, err := svc.CreateVolume(CreateRequest{ID: "v", Path: path, SizeBytes: 8 << 20}); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyPassphrase(path, &Secret{b: []byte(strings.Repeat("0", 64))}); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("want EPERM, got %v", err)
	}
}

func TestFixedKeyAndVersion(t *testing.T) {
	if Version() != HeaderVersion {
		t.Fatal(Version())
	}
	path := filepath.Join(t.TempDir(), "fixed_key")
	if err := os.WriteFile(path, []byte(strings.Repeat("cd", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := OpenFixedKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	id, err := keys.CreateKey("x", 256)
	if err != nil || id != "00000000-0000-0000-0000-000000000000" {
		t.Fatalf("%s %v", id, err)
	}
	key, err := keys.GetKey(id)
	if err != nil || len(key.Bytes()) != 32 || key.Bytes()[0] != 0xcd {
		t.Fatalf("%v %v", key, err)
	}
}
