package volcrypt

/*
#include <volcrypt.h>
*/
import "C"

import "context"

// CreateSnapshot snapshots rbd volume volumeID as RBD snapshot
// "snapshot-<snapshotID>" and returns the snapshot's record, which shares
// the volume's key id. ErrNotSupported for a mapped volume; ErrExists if
// the id is taken; ErrBusy unless the volume is available or in use.
func (s *Service) CreateSnapshot(ctx context.Context, volumeID, snapshotID string) (*Snapshot, error) {
	snap := &Snapshot{}
	err := s.callJSON(ctx, "volume_snapshot", snap,
		func(h *C.volcrypt_service_t, cs *cstrings, out, errmsg **C.char) C.int {
			return C.volcrypt_volume_snapshot(h, cs.str(volumeID), cs.str(snapshotID), out, errmsg)
		})
	if err != nil {
		return nil, err
	}
	return snap, nil
}

// DeleteSnapshot deletes a snapshot (the RBD snapshot, then the record).
// ErrBusy while clones depend on it; ErrNotFound if there is none.
func (s *Service) DeleteSnapshot(ctx context.Context, snapshotID string) error {
	return s.call(ctx, "snapshot_delete", func(h *C.volcrypt_service_t, cs *cstrings, errmsg **C.char) C.int {
		return C.volcrypt_snapshot_delete(h, cs.str(snapshotID), errmsg)
	})
}

// CloneVolume clones snapshot snapshotID into a new rbd volume newVolumeID
// at pool/image, with a new key id holding the same key bytes (so the
// inherited header opens with the clone's own key), and returns the new
// volume's record. It fails and rolls back as CreateVolume does;
// ErrNotFound: no such snapshot; ErrExists: the id or image is taken.
func (s *Service) CloneVolume(ctx context.Context, snapshotID, newVolumeID, pool, image string) (*Volume, error) {
	v := &Volume{}
	err := s.callJSON(ctx, "volume_clone", v,
		func(h *C.volcrypt_service_t, cs *cstrings, out, errmsg **C.char) C.int {
			return C.volcrypt_volume_clone(h, cs.str(snapshotID), cs.str(newVolumeID), cs.str(pool),
				cs.str(image), out, errmsg)
		})
	if err != nil {
		return nil, err
	}
	return v, nil
}
