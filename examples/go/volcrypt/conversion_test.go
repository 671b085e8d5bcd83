package volcrypt

import (
	"context"
	"os"
	"testing"
)

func TestEncryptThenReencryptWithProgress(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	if err := os.WriteFile(f.path("plain"), make([]byte, 4<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ManageVolume(ctx, ManageRequest{ID: "c1", Path: f.path("plain"), Unencrypted: true}); err != nil {
		t.Fatal(err)
	}
	var last uint64
	v, err := f.svc.ConvertVolume(ctx, "c1", ConvertOptions{Path: f.path("c1.luks"),
		OnProgress: func(done, total uint64) { last = done }})
	if err != nil {
		t.Fatal(err)
	}
	if !v.Encrypted || last != 4<<20 {
		t.Fatalf("after encrypt: %+v, last progress %d", v, last)
	}
	w, err := f.svc.ConvertVolume(ctx, "c1", ConvertOptions{Reencrypt: true, Path: f.path("c1.new"),
		Bandwidth: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if w.EncryptionKeyID == v.EncryptionKeyID {
		t.Fatalf("reencrypt kept the key %s", w.EncryptionKeyID)
	}
	if _, err := f.svc.ConvertVolume(ctx, "nope", ConvertOptions{Path: f.path("x")}); err == nil {
		t.Fatal("converting a missing volume succeeded")
	}
}
