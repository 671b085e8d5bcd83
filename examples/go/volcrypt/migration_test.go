package volcrypt

import (
	"context"
	"os"
	"strings"
	"testing"
)

func migrationFixture(t *testing.T) (*fixture, *Keys, *Keys) {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	for path, text := range map[string]string{f.path("fixed_key"): strings.Repeat("ef", 32),
		f.path("master.key"): strings.Repeat("33", 32)} {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fixed, err := OpenFixedKeys(f.path("fixed_key"))
	if err != nil {
		t.Fatal(err)
	}
	dest, err := OpenFileKeys(f.path("keys"), f.path("master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if f.store, err = OpenSQLiteStore(f.path("volumes.db")); err != nil {
		t.Fatal(err)
	}
	if f.mapped, err = OpenMappedBackend(); err != nil {
		t.Fatal(err)
	}
	if f.svc, err = NewService(ServiceOptions{Keys: fixed, Store: f.store, Mapped: f.mapped, Host: "go"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.svc.Close(); f.mapped.Close(); f.store.Close(); fixed.Close(); dest.Close() })
	for _, id := range []string{"g1", "g2"} {
		f.create(t, id)
	}
	return f, fixed, dest
}

func TestMigrateFixedKeysWithProgress(t *testing.T) {
	ctx := context.Background()
	f, fixed, dest := migrationFixture(t)
	var seen []string
	report, err := MigrateFixedKeys(ctx, f.store, fixed, dest, MigrationOptions{
		Host:   "go",
		OnItem: func(item MigrationItem, done, total int) { seen = append(seen, item.ID) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if report.Host != "go" || report.Migrated != 2 || report.VolumesRemaining != 0 || len(seen) != 2 || seen[1] != "g2" {
		t.Fatalf("report %+v, seen %v", report, seen)
	}
	v, err := f.store.Volume(ctx, "g1")
	if err != nil || v.EncryptionKeyID != report.Items[0].NewKeyID {
		t.Fatalf("g1 = %+v, %v; want key %s", v, err, report.Items[0].NewKeyID)
	}
	again, err := MigrateFixedKeys(ctx, f.store, nil, dest, MigrationOptions{Host: "go"})
	if err != nil || !strings.Contains(again.NotStarted, "fixed_key is not in use") {
		t.Fatalf("without a fixed key: %+v, %v", again, err)
	}
}

func TestAPanicInTheProgressCallbackStopsCallsAndIsRaisedAfterTheMigration(t *testing.T) {
	ctx := context.Background()
	f, fixed, dest := migrationFixture(t)
	calls := 0
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want boom", r)
			}
		}()
		_, _ = MigrateFixedKeys(ctx, f.store, fixed, dest, MigrationOptions{Host: "go",
			OnItem: func(MigrationItem, int, int) { calls++; panic("boom") }})
		t.Fatal("no panic")
	}()
	if calls != 1 {
		t.Fatalf("the callback ran %d times after panicking", calls)
	}
	// The migration itself ran to its end: both volumes moved.
	for _, id := range []string{"g1", "g2"} {
		v, err := f.store.Volume(ctx, id)
		if err != nil || v.EncryptionKeyID == "00000000-0000-0000-0000-000000000000" {
			t.Fatalf("%s: %+v %v", id, v, err)
		}
	}
}
