package volcrypt

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestRekeyAndRotateKeysWithProgress(t *testing.T) {
	dir := t.TempDir()
	master := filepath.Join(dir, "master.key")
	if err := os.WriteFile(master, []byte(strings.Repeat("44", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := OpenFileKeys(filepath.Join(dir, "keys"), master)
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	store, err := OpenSqliteStore(filepath.Join(dir, "volumes.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	mapped, err := OpenMappedBackend()
	if err != nil {
		t.Fatal(err)
	}
	defer mapped.Close()
	svc, err := NewService(ServiceOptions{Keys: keys, Store: store, Mapped: mapped, Host: "go"})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	for _, id := range []string{"k1", "k2"} {
		if _, err := svc.CreateVolume(CreateRequest{ID: id, Path: filepath.Join(dir, id), SizeBytes: 1 << 20}); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := store.Volume("k1")
	after, err := svc.RekeyVolume("k1")
	if err != nil {
		t.Fatal(err)
	}
	if after.EncryptionKeyID == before.EncryptionKeyID || after.Status != "available" {
		t.Fatalf("after rekey: %+v", after)
	}
	if _, err := svc.RekeyVolume("nope"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("rekey of a missing volume: %v", err)
	}
	var seen []string
	report, err := svc.RotateKeys(store, RotationOptions{
		KeyCreatedBefore: 4102444800,
		OnItem:           func(item RotationItem, done, total int) { seen = append(seen, item.Outcome) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if report.Rotated != 2 || len(seen) != 2 || seen[0] != "rotated" {
		t.Fatalf("report %+v, seen %v", report, seen)
	}
	again, err := svc.RotateKeys(store, RotationOptions{KeyCreatedBefore: 1})
	if err != nil || len(again.Items) != 0 {
		t.Fatalf("rerun: %+v %v", again, err)
	}
}
