"""The installed Python package against real services, run by
tests/scripts/python_services_test.sh (through binding_services.sh: Ceph,
libvirtd with a paused domain and the ceph secret, Barbican, PostgreSQL,
all named by VOLCRYPT_* variables). Run with `python3 -I`, so that the
package imported is the installed one, not this directory's."""

import os
import subprocess
import sys
import threading
import unittest

import volcrypt

ENV = {k: os.environ.get("VOLCRYPT_" + k, "") for k in
       ("CEPH_CONF", "LIBVIRT_URI", "DOMAIN", "CEPH_SECRET", "BARBICAN_URL",
        "PG_CONNINFO", "WORK", "PREFIX")}


def domain_xml():
    return subprocess.run(["virsh", "-c", ENV["LIBVIRT_URI"], "dumpxml", ENV["DOMAIN"]],
                          check=True, capture_output=True, text=True).stdout


class ServicesTest(unittest.TestCase):
    def setUp(self):
        if not all(ENV[k] for k in ("CEPH_CONF", "LIBVIRT_URI", "DOMAIN", "CEPH_SECRET", "WORK")):
            self.fail("run through tests/scripts/python_services_test.sh")
        self.dir = os.path.join(ENV["WORK"], self.id().rsplit(".", 1)[-1])
        os.mkdir(self.dir)
        master = os.path.join(self.dir, "master.key")
        with open(os.open(master, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("55" * 32)
        self.keys = volcrypt.FileKeys(os.path.join(self.dir, "keys"), master)
        self.store = volcrypt.SqliteStore(os.path.join(self.dir, "volumes.db"))
        self.mapped = volcrypt.MappedBackend()
        self.rbd = volcrypt.RbdBackend(ceph_conf=ENV["CEPH_CONF"], timeout_seconds=20,
                                       libvirt_auth_secret_uuid=ENV["CEPH_SECRET"])
        self.virt = volcrypt.Attacher(ENV["LIBVIRT_URI"])
        self.svc = volcrypt.Service(self.keys, self.store, mapped=self.mapped, rbd=self.rbd,
                                    attacher=self.virt, host="py")

    def tearDown(self):
        for h in (self.svc, self.virt, self.rbd, self.mapped, self.store, self.keys):
            h.close()

    def test_the_installed_package_is_imported(self):
        self.assertTrue(volcrypt.__file__.startswith(ENV["PREFIX"] + "/"), volcrypt.__file__)

    def lifecycle(self, volume_id, target, **where):
        """Create, attach live, detach, delete; the domain shows the disk only
        while attached."""
        self.svc.create_volume(size_bytes=16 << 20, id=volume_id, **where)
        self.svc.attach_volume(volume_id, ENV["DOMAIN"], target_dev=target,
                               ephemeral_secret=True)
        self.assertIn("<serial>%s</serial>" % volume_id, domain_xml())
        with self.assertRaises(volcrypt.BusyError):
            self.svc.delete_volume(volume_id)
        self.svc.detach_volume(volume_id)
        self.assertNotIn("<serial>%s</serial>" % volume_id, domain_xml())
        self.svc.delete_volume(volume_id)
        with self.assertRaises(volcrypt.NotFoundError):
            self.store.volume(volume_id)

    def test_the_ceph_secret_is_defined_from_the_keyring_and_checked(self):
        uuid = self.virt.define_ceph_secret(ceph_conf=ENV["CEPH_CONF"], uuid=ENV["CEPH_SECRET"])
        self.assertEqual(uuid, ENV["CEPH_SECRET"])
        self.virt.check_ceph_secret(uuid, ceph_conf=ENV["CEPH_CONF"])
        with self.assertRaises(volcrypt.NotFoundError) as missing:
            self.virt.check_ceph_secret("c3c3c3c3-0000-4000-8000-0000000000ff",
                                        ceph_conf=ENV["CEPH_CONF"])
        self.assertIn("ceph-secret define", str(missing.exception))
        # libvirt allows one secret per usage name: a second UUID is refused.
        with self.assertRaises(volcrypt.AlreadyExistsError):
            self.virt.define_ceph_secret(ceph_conf=ENV["CEPH_CONF"],
                                         uuid="c3c3c3c3-0000-4000-8000-0000000000fe")

    def test_file_and_rbd_volumes_attach_live_detach_and_delete(self):
        self.lifecycle("pf1", "sdb", path=os.path.join(self.dir, "pf1"))
        self.lifecycle("pr1", "sdc", pool="rbd", image="volume-pr1")

    def test_an_rbd_volume_extends_snapshots_and_clones(self):
        self.svc.create_volume(size_bytes=16 << 20, id="pr2", pool="rbd", image="volume-pr2")
        self.svc.extend_volume("pr2", 32 << 20)
        self.assertEqual(self.store.volume("pr2")["size_bytes"], 32 << 20)
        snap = self.svc.create_snapshot("pr2", "ps2")
        self.assertEqual(snap["volume_id"], "pr2")
        clone = self.svc.clone_volume("ps2", "pc2", "rbd", "volume-pc2")
        self.assertNotEqual(clone["encryption_key_id"], snap["encryption_key_id"])
        self.assertEqual(self.svc.verify_volume("pc2"), 0)
        with self.assertRaises(volcrypt.BusyError):
            self.svc.delete_snapshot("ps2")
        self.svc.delete_volume("pc2")
        self.svc.delete_snapshot("ps2")
        self.svc.delete_volume("pr2")

    def test_eight_workers_at_once(self):
        """Seven attach (libvirt gives the domain's one SCSI controller seven
        units, sda to sdg; an eighth disk would need a second controller,
        which the 'pc' machine cannot hot-plug); the eighth creates,
        verifies, extends and deletes meanwhile."""
        errors = []

        def work(i):
            try:
                where = ({"pool": "rbd", "image": "volume-pw%d" % i} if i % 2 else
                         {"path": os.path.join(self.dir, "pw%d" % i)})
                if i < 7:
                    self.lifecycle("pw%d" % i, "sd" + "abcdefg"[i], **where)
                    return
                self.svc.create_volume(size_bytes=16 << 20, id="pw7", **where)
                self.assertEqual(self.svc.verify_volume("pw7"), 0)
                self.svc.extend_volume("pw7", 32 << 20)
                self.svc.delete_volume("pw7")
            except Exception as e:  # reported below, with the worker's number
                errors.append("worker %d: %r" % (i, e))

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(self.store.volumes(), [])

    def test_barbican_keys_and_a_postgres_record(self):
        with volcrypt.BarbicanKeys(endpoint=ENV["BARBICAN_URL"], project_id="py-project") as keys, \
                volcrypt.PostgresStore(ENV["PG_CONNINFO"]) as store, \
                volcrypt.PostgresStore(ENV["PG_CONNINFO"]) as other, \
                volcrypt.Service(keys, store, rbd=self.rbd, host="py") as svc:
            volume = svc.create_volume(size_bytes=16 << 20, id="pb1", pool="rbd",
                                       image="volume-pb1")
            self.assertEqual(other.volume("pb1")["encryption_key_id"], volume["encryption_key_id"])
            self.assertEqual(len(keys.get_key(volume["encryption_key_id"])), 32)
            self.assertEqual(svc.verify_volume("pb1"), 0)
            svc.delete_volume("pb1")
            with self.assertRaises(volcrypt.NotFoundError):
                keys.get_key(volume["encryption_key_id"])


if __name__ == "__main__":
    unittest.main(verbosity=2, argv=sys.argv[:1])
