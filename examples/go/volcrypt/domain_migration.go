package volcrypt

/*
#include <stdlib.h>
#include <volcrypt.h>
*/
import "C"

import (
	"context"
	"unsafe"
)

// DomainMigration says which running domain moves where (MigrateDomain).
type DomainMigration struct {
	Domain          string // name, as the attachments record it
	SourceURI       string // libvirt of the service's attacher
	DestinationURI  string // libvirt of the destination Attacher
	DestinationHost string // host the records will name; empty: the destination daemon's host name
	MigrateURI      string // tcp://HOST:PORT for QEMU's stream; empty: libvirt's choice
}

// MigratedDomain is what MigrateDomain moved.
type MigratedDomain struct {
	Domain  string   `json:"domain"`
	Volumes []string `json:"volumes"`
}

// MigrateDomain moves running domain m.Domain live from the service's
// libvirt to dest with its volcrypt volumes: each volume's secret is
// defined on dest first (same UUID and value, read with the service's key
// manager), libvirt migrates (persistent there, undefined here), then the
// records name the destination host and the source's secrets go. A failed
// move is undone; a crash leaves 'migrating' for Reconcile on each host.
// ErrInvalid: a missing argument or dest; syscall.EOPNOTSUPP: a volume on
// a block device (nothing changed); ErrNotFound: records and libvirt
// disagree, or no such domain. ctx is checked before it starts.
func (s *Service) MigrateDomain(ctx context.Context, dest *Attacher, m DomainMigration) (_ *MigratedDomain, err error) {
	const op = "domain_migrate"
	defer catchNUL(op, &err)
	if err := notStarted(ctx, op); err != nil {
		return nil, err
	}
	sp, err := s.acquire(op)
	if err != nil {
		return nil, err
	}
	defer s.release()
	var dp unsafe.Pointer
	if dest != nil {
		if dp, err = dest.acquire(op); err != nil {
			return nil, err
		}
		defer dest.release()
	}
	var cs cstrings
	defer cs.free()
	var co C.volcrypt_domain_migrate_options_t
	co.struct_size = C.size_t(unsafe.Sizeof(co))
	co.domain = cs.str(m.Domain)
	co.source_uri = cs.str(m.SourceURI)
	co.destination_uri = cs.str(m.DestinationURI)
	co.destination_host = cs.str(m.DestinationHost)
	co.migrate_uri = cs.str(m.MigrateURI)
	var out, errmsg *C.char
	rc := C.volcrypt_domain_migrate((*C.volcrypt_service_t)(sp), (*C.volcrypt_attacher_t)(dp),
		&co, &out, &errmsg)
	if err := check(rc, errmsg, op); err != nil {
		return nil, err
	}
	r := &MigratedDomain{}
	if err := takeJSON(op, out, r); err != nil {
		return nil, err
	}
	return r, nil
}
