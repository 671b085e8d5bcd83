package volcrypt

/*
#include <volcrypt.h>
*/
import "C"

// Keyslot is one used LUKS keyslot.
type Keyslot struct {
	Slot       int    `json:"slot"`
	PBKDF      string `json:"pbkdf"`
	Iterations uint64 `json:"iterations"`
}

// LuksInfo is what a LUKS header says about its volume.
type LuksInfo struct {
	Version            int       `json:"version"` // 1 or 2
	Cipher             string    `json:"cipher"`
	VolumeKeyBits      int       `json:"volume_key_bits"`
	KeySize            int       `json:"key_size"`
	PayloadOffsetBytes uint64    `json:"payload_offset_bytes"`
	SectorSize         int       `json:"sector_size"`
	UUID               string    `json:"uuid"`
	Keyslots           []Keyslot `json:"keyslots"`
	DeviceBytes        uint64    `json:"device_bytes"`
	PayloadBytes       uint64    `json:"payload_bytes"`
}

// InspectLUKS reads the LUKS header of the file or block device at path.
// ErrInvalid if it holds no LUKS header.
func InspectLUKS(path string) (_ *LuksInfo, err error) {
	defer catchNUL("luks_inspect", &err)
	var cs cstrings
	defer cs.free()
	var out, errmsg *C.char
	if err := check(C.volcrypt_luks_inspect(cs.str(path), &out, &errmsg), errmsg,
		"luks_inspect"); err != nil {
		return nil, err
	}
	info := &LuksInfo{}
	if err := takeJSON("luks_inspect", out, info); err != nil {
		return nil, err
	}
	return info, nil
}

// VerifyPassphrase returns the keyslot of the LUKS header at path that
// passphrase unlocks (it runs the keyslot's KDF: up to seconds of CPU).
// ErrPermission (EPERM) if no keyslot accepts it. The passphrase is copied
// into C memory that is wiped before it is freed.
func VerifyPassphrase(path string, passphrase []byte) (_ int, err error) {
	defer catchNUL("luks_verify_passphrase", &err)
	var cs cstrings
	defer cs.free()
	var slot C.int
	var errmsg *C.char
	rc := C.volcrypt_luks_verify_passphrase(cs.str(path), cs.secretBytes(passphrase),
		C.size_t(len(passphrase)), &slot, &errmsg)
	if err := check(rc, errmsg, "luks_verify_passphrase"); err != nil {
		return -1, err
	}
	return int(slot), nil
}
