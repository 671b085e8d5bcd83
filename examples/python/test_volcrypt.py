"""Tests of the Python bindings against the real library (run by meson with
VOLCRYPT_LIBRARY pointing at the built libvolcrypt.so)."""

import errno
import os
import shutil
import sqlite3
import tempfile
import unittest

import volcrypt


class VolcryptPythonTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="volcrypt-py-")
        self.master = os.path.join(self.dir, "master.key")
        with open(os.open(self.master, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("11" * 32)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def path(self, name):
        return os.path.join(self.dir, name)

    def test_scenario_create_plan_verify_delete(self):
        with volcrypt.FileKeys(self.path("keys"), self.master) as keys, \
                volcrypt.SqliteStore(self.path("volumes.db")) as store, \
                volcrypt.MappedBackend() as mapped, \
                volcrypt.Service(keys, store, mapped=mapped, host="py") as svc:
            volume = svc.create_volume(path=self.path("v1"), size_bytes=16 << 20, id="v1")
            self.assertEqual(volume["status"], "available")
            self.assertEqual(volume["host"], "py")
            self.assertEqual(store.volume("v1")["encryption_key_id"],
                             volume["encryption_key_id"])
            self.assertEqual([v["id"] for v in store.volumes()], ["v1"])

            plan = svc.attach_plan("v1", target_dev="sdc")
            self.assertIn('private="yes"', plan.secret_xml)
            self.assertIn('dev="sdc"', plan.disk_xml)
            self.assertEqual(len(plan.passphrase), 64)
            self.assertNotIn(bytes(plan.passphrase).decode(), plan.secret_xml + plan.disk_xml)
            self.assertIn("redacted", repr(plan.passphrase))
            with plan.passphrase as passphrase:
                self.assertEqual(volcrypt.luks_verify_passphrase(self.path("v1"), passphrase), 0)
            self.assertEqual(bytes(plan.passphrase), bytes(64))  # wiped on exit

            key = keys.get_key(volume["encryption_key_id"])
            self.assertEqual(len(key), 32)
            key.wipe()
            self.assertEqual(svc.verify_volume("v1"), 0)
            svc.extend_volume("v1", 32 << 20)
            self.assertEqual(volcrypt.luks_inspect(self.path("v1"))["payload_bytes"], 32 << 20)
            svc.delete_volume("v1")
            self.assertFalse(os.path.exists(self.path("v1")))
            self.assertEqual(store.volumes(), [])

    def test_unmanage_then_manage_with_the_key_bytes(self):
        with volcrypt.FileKeys(self.path("keys"), self.master) as keys, \
                volcrypt.SqliteStore(self.path("volumes.db")) as store, \
                volcrypt.MappedBackend() as mapped, \
                volcrypt.Service(keys, store, mapped=mapped, host="py") as svc:
            made = svc.create_volume(path=self.path("v1"), size_bytes=16 << 20, id="v1")
            svc.unmanage_volume("v1")
            self.assertEqual(store.volumes(), [])
            self.assertTrue(os.path.exists(self.path("v1")))
            key = keys.get_key(made["encryption_key_id"])
            with self.assertRaises(volcrypt.PermissionError_):
                svc.manage_volume(path=self.path("v1"), key=b"\x01" * 32, id="v2")
            with self.assertRaises(volcrypt.InvalidArgumentError):
                svc.manage_volume(path=self.path("v1"), id="v2")
            volume = svc.manage_volume(path=self.path("v1"), key=key, id="v2",
                                       size_bytes=16 << 20)
            self.assertEqual(volume["status"], "available")
            self.assertNotEqual(volume["encryption_key_id"], made["encryption_key_id"])
            self.assertEqual(bytes(keys.get_key(volume["encryption_key_id"])), bytes(key))
            self.assertEqual(svc.verify_volume("v2"), 0)
            stored = keys.store_key(b"\x07" * 32, "given")
            self.assertEqual(bytes(keys.get_key(stored)), b"\x07" * 32)

    def test_migrate_domain_needs_a_destination(self):
        # The move itself runs against two libvirt daemons in
        # tests/ceph/live_migration_test.cc; here, the binding's arguments.
        with volcrypt.FileKeys(self.path("mkeys"), self.master) as keys, \
                volcrypt.SqliteStore(self.path("m.db")) as store, \
                volcrypt.MappedBackend() as mapped, \
                volcrypt.Service(keys, store, mapped=mapped, host="py") as svc:
            with self.assertRaises(OSError) as missing:
                svc.migrate_domain("d", None, "qemu:///system", "qemu+tcp://b/system")
            self.assertEqual(missing.exception.errno, errno.EINVAL)
            self.assertIn("destination", str(missing.exception))

    def test_rekey_and_fleet_rotation_with_progress(self):
        with volcrypt.FileKeys(self.path("keys"), self.master) as keys, \
                volcrypt.SqliteStore(self.path("volumes.db")) as store, \
                volcrypt.MappedBackend() as mapped, \
                volcrypt.Service(keys, store, mapped=mapped, host="py") as svc:
            for i in ("r1", "r2"):
                svc.create_volume(path=self.path(i), size_bytes=1 << 20, id=i)
            before = store.volume("r1")["encryption_key_id"]
            after = svc.rekey_volume("r1")
            self.assertNotEqual(after["encryption_key_id"], before)
            self.assertEqual(after["status"], "available")
            self.assertEqual(svc.verify_volume("r1"), 1)  # the new keyslot; 0 is gone
            with self.assertRaises(OSError) as missing:
                svc.rekey_volume("nope")
            self.assertEqual(missing.exception.errno, errno.ENOENT)
            seen = []
            report = volcrypt.rotate_keys(svc, store, key_created_before=4102444800,
                                          on_item=lambda item, done, total:
                                          seen.append((item["outcome"], done, total)))
            self.assertEqual(report["rotated"], 2)
            self.assertEqual(seen, [("rotated", 1, 2), ("rotated", 2, 2)])
            self.assertEqual(volcrypt.rotate_keys(svc, store, key_created_before=1)["items"], [])

    def test_encrypt_then_reencrypt_with_progress(self):
        with volcrypt.FileKeys(self.path("keys"), self.master) as keys, \
                volcrypt.SqliteStore(self.path("volumes.db")) as store, \
                volcrypt.MappedBackend() as mapped, \
                volcrypt.Service(keys, store, mapped=mapped, host="py") as svc:
            with open(self.path("plain"), "wb") as f:
                f.truncate(4 << 20)
                f.write(b"\xa5" * 65536)
            svc.manage_volume(path=self.path("plain"), id="c1", unencrypted=True)
            seen = []
            v = svc.convert_volume("c1", reencrypt=False, path=self.path("c1.luks"),
                                   on_progress=lambda done, total: seen.append((done, total)))
            self.assertTrue(v["encrypted"])
            self.assertEqual(seen[-1], (4 << 20, 4 << 20))
            first = v["encryption_key_id"]
            v = svc.convert_volume("c1", reencrypt=True, path=self.path("c1.new"),
                                   bandwidth=64 << 20)
            self.assertNotEqual(v["encryption_key_id"], first)
            self.assertFalse(os.path.exists(self.path("c1.luks")))
            with self.assertRaises(OSError) as taken:
                svc.convert_volume("c1", reencrypt=True, path=self.path("c1.new"))
            self.assertEqual(taken.exception.errno, errno.EINVAL)

    def test_attach_options_handoff_and_snapshot_refusal(self):
        with volcrypt.FileKeys(self.path("keys"), self.master) as keys, \
                volcrypt.SqliteStore(self.path("volumes.db")) as store, \
                volcrypt.MappedBackend() as mapped, \
                volcrypt.Service(keys, store, mapped=mapped, host="py") as svc:
            svc.create_volume(path=self.path("v1"), size_bytes=16 << 20, id="v1")
            plan = svc.attach_plan("v1", target_dev="vdb", target_bus="virtio",
                                   ephemeral_secret=True)
            self.assertIn('ephemeral="yes"', plan.secret_xml)
            self.assertIn('bus="virtio"', plan.disk_xml)
            read_end, write_end = os.pipe()
            svc.write_passphrase("v1", write_end)
            os.close(write_end)
            with os.fdopen(read_end, "rb") as r:
                self.assertEqual(r.read(), bytes(plan.passphrase))
            plan.passphrase.wipe()
            read_end, write_end = os.pipe()
            os.close(read_end)
            with self.assertRaises(volcrypt.VolcryptError) as e:
                svc.write_passphrase("v1", write_end)
            self.assertEqual(e.exception.errno, errno.EPIPE)
            os.close(write_end)
            with self.assertRaises(volcrypt.VolcryptError) as e:
                svc.create_snapshot("v1", "s1")
            self.assertEqual(e.exception.errno, errno.ENOTSUP)
            with self.assertRaises(volcrypt.InvalidArgumentError):
                svc.attach_volume("v1", "dom", live=False, config=False)
            svc.delete_volume("v1")

    def test_a_string_with_a_nul_byte_is_refused_not_cut_short(self):
        with volcrypt.FileKeys(self.path("keys"), self.master) as keys, \
                volcrypt.SqliteStore(self.path("volumes.db")) as store, \
                volcrypt.MappedBackend() as mapped, \
                volcrypt.Service(keys, store, mapped=mapped, host="py") as svc:
            svc.create_volume(path=self.path("v1"), size_bytes=16 << 20, id="v1")
            with self.assertRaises(volcrypt.InvalidArgumentError) as e:
                svc.delete_volume("v1\0x")
            self.assertEqual(e.exception.errno, errno.EINVAL)
            self.assertIn("NUL", e.exception.strerror)
            self.assertEqual(store.volume("v1")["status"], "available")
            self.assertTrue(os.path.exists(self.path("v1")))
            svc.delete_volume("v1")

    def test_reconcile_undoes_an_interrupted_create(self):
        with volcrypt.FileKeys(self.path("keys"), self.master) as keys, \
                volcrypt.SqliteStore(self.path("volumes.db")) as store, \
                volcrypt.MappedBackend() as mapped, \
                volcrypt.Service(keys, store, mapped=mapped, host="py") as svc:
            svc.create_volume(path=self.path("v1"), size_bytes=16 << 20, id="v1")
            # As a crash before the create's last step leaves it.
            with sqlite3.connect(self.path("volumes.db")) as db:
                db.execute("UPDATE volumes SET status = 'creating' WHERE id = 'v1'")
            self.assertEqual(svc.reconcile(grace_seconds=0), 1)
            self.assertEqual(store.volumes(), [])
            self.assertFalse(os.path.exists(self.path("v1")))
            self.assertEqual([f for f in os.listdir(self.path("keys")) if f.endswith(".key")], [])

    def test_errors_are_oserror_subclasses_with_errno(self):
        with volcrypt.FileKeys(self.path("keys"), self.master) as keys, \
                volcrypt.SqliteStore(self.path("volumes.db")) as store, \
                volcrypt.MappedBackend() as mapped, \
                volcrypt.Service(keys, store, mapped=mapped) as svc:
            with self.assertRaises(volcrypt.NotFoundError) as cm:
                svc.delete_volume("nope")
            self.assertIsInstance(cm.exception, OSError)
            self.assertEqual(cm.exception.errno, errno.ENOENT)
            self.assertIn("nope", cm.exception.strerror)
            with self.assertRaises(volcrypt.InvalidArgumentError):
                svc.create_volume(path=self.path("v"), size_bytes=1000)
            svc.create_volume(path=self.path("v"), size_bytes=8 << 20, id="v")
            with self.assertRaises(volcrypt.AlreadyExistsError):
                svc.create_volume(path=self.path("v"), size_bytes=8 << 20, id="v")
            with self.assertRaises(volcrypt.PermissionError_) as cm:
                volcrypt.luks_verify_passphrase(self.path("v"), b"0" * 64)
            self.assertEqual(cm.exception.errno, errno.EPERM)
            with self.assertRaises(volcrypt.BusyError):
                svc.attach_volume("v", "some-domain")  # no attacher configured

    def test_fixed_key_is_castellans(self):
        fixed = self.path("fixed_key")
        with open(os.open(fixed, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("ab" * 32 + "\n")
        with volcrypt.FixedKeys(fixed) as keys:
            key_id = keys.create_key("anything")
            self.assertEqual(key_id, "00000000-0000-0000-0000-000000000000")
            self.assertEqual(bytes(keys.get_key(key_id)), bytes.fromhex("ab" * 32))

    def test_migrate_fixed_keys_with_progress(self):
        fixed_path = self.path("fixed_key")
        with open(os.open(fixed_path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("cd" * 32 + "\n")
        with volcrypt.FixedKeys(fixed_path) as fixed, \
                volcrypt.FileKeys(self.path("keys"), self.master) as dest, \
                volcrypt.SqliteStore(self.path("volumes.db")) as store, \
                volcrypt.MappedBackend() as mapped:
            with volcrypt.Service(fixed, store, mapped=mapped, host="py") as svc:
                for name in ("m1", "m2"):
                    svc.create_volume(1 << 20, path=self.path(name), id=name)
            seen = []
            report = volcrypt.migrate_fixed_keys(
                store, fixed, dest, "py",
                on_item=lambda item, done, total: seen.append((item["id"], done, total)))
            self.assertEqual(seen, [("m1", 1, 2), ("m2", 2, 2)])
            self.assertEqual(report["migrated"], 2)
            self.assertEqual(report["volumes_remaining"], 0)
            self.assertEqual(report["items"][0]["outcome"], "migrated")
            with volcrypt.Service(dest, store, mapped=mapped, host="py") as svc:
                self.assertGreaterEqual(svc.verify_volume("m1"), 0)
            self.assertIn("fixed_key is not in use",
                          volcrypt.migrate_fixed_keys(store, None, dest, "py")["not_started"])

    def test_master_key_readable_by_others_is_refused(self):
        os.chmod(self.master, 0o644)
        with self.assertRaises(volcrypt.PermissionError_):
            volcrypt.FileKeys(self.path("keys"), self.master)

    def test_version(self):
        self.assertEqual(volcrypt.version(), os.environ["VOLCRYPT_EXPECTED_VERSION"])


if __name__ == "__main__":
    unittest.main()
