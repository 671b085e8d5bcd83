package volcrypt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMigrateFixedKeysWithProgress(t *testing.T) {
	dir := t.TempDir()
	fixedPath := filepath.Join(dir, "fixed_key")
	master := filepath.Join(dir, "master.key")
	for path, text := range map[string]string{fixedPath: strings.Repeat("ef", 32), master: strings.Repeat("33", 32)} {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fixed, err := OpenFixedKeys(fixedPath)
	if err != nil {
		t.Fatal(err)
	}
	defer fixed.Close()
	dest, err := OpenFileKeys(filepath.Join(dir, "keys"), master)
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
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
	svc, err := NewService(ServiceOptions{Keys: fixed, Store: store, Mapped: mapped, Host: "go"})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	for _, id := range []string{"g1", "g2"} {
		if _, err := svc.CreateVolume(CreateRequest{ID: id, Path: filepath.Join(dir, id), SizeBytes: 1 << 20}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	report, err := MigrateFixedKeys(store, fixed, dest, MigrationOptions{
		Host:   "go",
		OnItem: func(item MigrationItem, done, total int) { seen = append(seen, item.ID) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if report.Migrated != 2 || report.VolumesRemaining != 0 || len(seen) != 2 || seen[1] != "g2" {
		t.Fatalf("report %+v, seen %v", report, seen)
	}
	v, err := store.Volume("g1")
	if err != nil || v.EncryptionKeyID != report.Items[0].NewKeyID {
		t.Fatalf("g1 = %+v, %v; want key %s", v, err, report.Items[0].NewKeyID)
	}
	again, err := MigrateFixedKeys(store, nil, dest, MigrationOptions{Host: "go"})
	if err != nil || !strings.Contains(again.NotStarted, "fixed_key is not in use") {
		t.Fatalf("without a fixed key: %+v, %v", again, err)
	}
}
