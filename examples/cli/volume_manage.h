// `volcrypt volume manage`, `volume unmanage` and `luks inspect --backend
// rbd`: bringing an existing cloud's volumes in (VolumeService::
// ManageVolume) and reading headers through a backend.
#ifndef VOLCRYPT_EXAMPLES_CLI_VOLUME_MANAGE_H_
#define VOLCRYPT_EXAMPLES_CLI_VOLUME_MANAGE_H_

#include <string>

#include "examples/cli/args.h"
#include "volcrypt/volume_service.h"

namespace volcrypt_cli {

// volume manage (--backend mapped --path P | --backend rbd --pool P
// --image I [--engine qemu|librbd]) (--key-id ID | --key-file F |
// --passphrase-file F | --unencrypted) [--id ID] [--size SIZE]
// [--user-id U] [--project-id P]. Key and passphrase files are read as
// they are (like cryptsetup --key-file) and must be private to their
// owner. Prints the record as JSON; returns the exit code.
int VolumeManage(const Args& args, volcrypt::VolumeService& service);

// volume unmanage ID: forgets the record; volume and key stay.
int VolumeUnmanage(const std::string& id, volcrypt::VolumeService& service);

// luks inspect --backend rbd --pool P --image I: the header facts of an RBD
// image, read through librbd (the Ceph options as for every rbd command).
int LuksInspectRbd(const Args& args);

}  // namespace volcrypt_cli

#endif  // VOLCRYPT_EXAMPLES_CLI_VOLUME_MANAGE_H_
