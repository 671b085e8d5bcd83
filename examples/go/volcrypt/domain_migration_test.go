package volcrypt

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// The move itself runs against two libvirt daemons in
// tests/ceph/live_migration_test.cc; here, what the binding checks and
// passes on before libvirt.
func TestMigrateDomainNeedsADestination(t *testing.T) {
	f := setup(t)
	_, err := f.svc.MigrateDomain(context.Background(), nil, DomainMigration{
		Domain: "d", SourceURI: "qemu:///system", DestinationURI: "qemu+tcp://b/system"})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "destination") {
		t.Fatalf("without a destination: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.svc.MigrateDomain(ctx, nil, DomainMigration{Domain: "d"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled context starts nothing: %v", err)
	}
}
