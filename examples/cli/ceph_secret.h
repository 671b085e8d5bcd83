// `volcrypt ceph-secret define|check`: the libvirt secret of usage 'ceph'
// that rbd disks' <auth> names, filled from the client's keyring by
// volcrypt, so the cephx key never passes through a shell, a file of the
// operator's or argv (virsh secret-set-value needs one of those).
#ifndef VOLCRYPT_EXAMPLES_CLI_CEPH_SECRET_H_
#define VOLCRYPT_EXAMPLES_CLI_CEPH_SECRET_H_

#include <string>
#include <vector>

#include "examples/cli/args.h"

namespace volcrypt_cli {

// ceph-secret define [--libvirt-ceph-secret UUID] [--connect URI]: puts
// client.ID's cephx key (--ceph-id, from --ceph-keyring or the keyring
// ceph.conf names) into libvirt's ceph secret and prints {"uuid": ...}.
// ceph-secret check --libvirt-ceph-secret UUID [--connect URI]: exit 0 if
// it exists, is of usage ceph, has a value and, where libvirt lets it be
// read, holds that key. Returns the exit code.
int CephSecretCommand(const Args& args, const std::vector<std::string>& words);

}  // namespace volcrypt_cli

#endif  // VOLCRYPT_EXAMPLES_CLI_CEPH_SECRET_H_
