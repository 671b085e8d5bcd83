package volcrypt

import (
	"context"
	"errors"
	"testing"
)

func TestRekeyAndRotateKeysWithProgress(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	f.create(t, "k1")
	f.create(t, "k2")
	before, err := f.store.Volume(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	after, err := f.svc.RekeyVolume(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if after.EncryptionKeyID == before.EncryptionKeyID || after.Status != "available" {
		t.Fatalf("after rekey: %+v", after)
	}
	if slot, err := f.svc.VerifyVolume(ctx, "k1"); err != nil || slot != 1 {
		t.Fatalf("the new keyslot opens: %d %v", slot, err)
	}
	if _, err := f.svc.RekeyVolume(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rekey of a missing volume: %v", err)
	}
	var seen []string
	report, err := f.svc.RotateKeys(ctx, f.store, RotationOptions{
		KeyCreatedBefore: 4102444800,
		OnItem:           func(item RotationItem, done, total int) { seen = append(seen, item.Outcome) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if report.Rotated != 2 || len(seen) != 2 || seen[0] != "rotated" {
		t.Fatalf("report %+v, seen %v", report, seen)
	}
	again, err := f.svc.RotateKeys(ctx, f.store, RotationOptions{KeyCreatedBefore: 1})
	if err != nil || len(again.Items) != 0 {
		t.Fatalf("rerun: %+v %v", again, err)
	}
}

func TestRotateKeysRethrowsAPanicOfItsCallbackAfterTheCall(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	old := map[string]string{"p1": f.create(t, "p1").EncryptionKeyID, "p2": f.create(t, "p2").EncryptionKeyID}
	calls := 0
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v", r)
			}
		}()
		_, _ = f.svc.RotateKeys(ctx, f.store, RotationOptions{
			KeyCreatedBefore: 4102444800,
			OnItem:           func(RotationItem, int, int) { calls++; panic("boom") },
		})
	}()
	if calls != 1 {
		t.Fatalf("the callback ran %d times after its panic", calls)
	}
	// The rotation itself went on: both volumes have new keys.
	for id, key := range old {
		if v, err := f.store.Volume(ctx, id); err != nil || v.EncryptionKeyID == key || v.Status != "available" {
			t.Fatalf("%s after the rotation: %+v %v", id, v, err)
		}
	}
}
