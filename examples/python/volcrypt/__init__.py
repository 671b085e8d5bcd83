"""Python bindings for volcrypt's C ABI (libvolcrypt.so), over ctypes.

Errors are OSError subclasses carrying the errno and volcrypt's message;
handles are context managers; key bytes and passphrases come back as
bytearray objects that wipe() clears.

    import volcrypt
    with volcrypt.FileKeys("/var/lib/vc/keys", "/var/lib/vc/master.key") as keys, \\
         volcrypt.SqliteStore("/var/lib/vc/volumes.db") as store, \\
         volcrypt.MappedBackend() as mapped, \\
         volcrypt.Service(keys, store, mapped=mapped) as svc:
        volume = svc.create_volume(path="/srv/vols/v1", size_bytes=1 << 30, id="v1")
        plan = svc.attach_plan("v1")
        ...
        plan.passphrase.wipe()

The C library is libvolcrypt.so.0, found by the loader's normal search, or
in the directory `meson install` put it (recorded in volcrypt/_install.py);
$VOLCRYPT_LIBRARY overrides both.

Thread safety: every handle may be used from several threads at once (the C
library's rule); close() must not race with other calls on the same handle.
"""

import ctypes
import errno as _errno
import json
import os
from typing import Any, Callable, Dict, List, Optional, Union

Json = Dict[str, Any]

__all__ = [
    "VolcryptError", "NotFoundError", "AlreadyExistsError", "PermissionError_",
    "InvalidArgumentError", "BusyError", "UnavailableError", "Secret",
    "FileKeys", "FixedKeys", "BarbicanKeys", "SqliteStore", "PostgresStore",
    "MappedBackend", "RbdBackend", "migrate_fixed_keys",
    "Attacher", "Service", "AttachPlan", "luks_inspect", "luks_verify_passphrase",
    "version",
]


_SONAME = "libvolcrypt.so.0"


def _load():
    """Loads the C library: $VOLCRYPT_LIBRARY if set (an override for tests
    and odd layouts), else the soname through the loader's normal search,
    else the library directory meson installed this package beside."""
    override = os.environ.get("VOLCRYPT_LIBRARY")
    if override:
        return ctypes.CDLL(override)
    try:
        return ctypes.CDLL(_SONAME)
    except OSError as loader_error:
        try:
            from volcrypt import _install
        except ImportError:
            raise ImportError(f"{_SONAME} not found by the loader ({loader_error}); "
                              "install volcrypt or set VOLCRYPT_LIBRARY") from None
        try:
            return ctypes.CDLL(os.path.join(_install.LIBDIR, _SONAME))
        except OSError as e:
            raise ImportError(f"{_SONAME} not found by the loader nor in "
                              f"{_install.LIBDIR}: {e}") from None


_lib = _load()
_c_char_pp = ctypes.POINTER(ctypes.c_char_p)


class VolcryptError(OSError):
    """A volcrypt call failed: .errno and .strerror as OSError, plus .call."""

    def __init__(self, err: int, message: str, call: str) -> None:
        super().__init__(err, message)
        self.call = call


class NotFoundError(VolcryptError):
    pass


class AlreadyExistsError(VolcryptError):
    pass


class PermissionError_(VolcryptError):
    """Refused: EACCES, or EPERM when no keyslot accepts a passphrase."""


class InvalidArgumentError(VolcryptError):
    pass


class BusyError(VolcryptError):
    """The volume or resource is not in a state that allows this."""


class UnavailableError(VolcryptError):
    """A service (Ceph, libvirtd, a key manager) cannot be reached now."""


_BY_ERRNO = {
    _errno.ENOENT: NotFoundError,
    _errno.EEXIST: AlreadyExistsError,
    _errno.EACCES: PermissionError_,
    _errno.EPERM: PermissionError_,
    _errno.EINVAL: InvalidArgumentError,
    _errno.EBUSY: BusyError,
    _errno.EAGAIN: UnavailableError,
    _errno.ETIMEDOUT: UnavailableError,
}


def _check(rc, err, call):
    if rc >= 0:
        return
    message = ""
    if err.value:
        message = ctypes.string_at(err.value).decode("utf-8", "replace")
        _lib.volcrypt_free(err.value)
    raise _BY_ERRNO.get(-rc, VolcryptError)(-rc, message or os.strerror(-rc), call)


def _call(name, *args):
    """Calls volcrypt_<name>(*args, &errmsg) and raises on failure."""
    err = ctypes.c_void_p()
    rc = getattr(_lib, "volcrypt_" + name)(*args, ctypes.byref(err))
    _check(rc, err, name)
    return rc


def _take_string(ptr):
    """Returns the malloc'd C string at `ptr` as str and frees it."""
    try:
        return ctypes.string_at(ptr.value).decode("utf-8")
    finally:
        _lib.volcrypt_free(ptr.value)


def _b(s: Optional[str]) -> Optional[bytes]:
    """`s` as a C string. C reads a string only up to a NUL byte, so "v1\\0x"
    would reach the library as "v1" and act on another volume: refused."""
    if s is None:
        return None
    if "\0" in s:
        raise InvalidArgumentError(_errno.EINVAL,
                                   "a string argument contains a NUL byte: %r" % s[:64],
                                   "argument check")
    return s.encode("utf-8")


_lib.volcrypt_version.restype = ctypes.c_char_p
_lib.volcrypt_free.argtypes = [ctypes.c_void_p]
_lib.volcrypt_wipe.argtypes = [ctypes.c_void_p, ctypes.c_size_t]


def version() -> str:
    """The version of the loaded libvolcrypt."""
    return _lib.volcrypt_version().decode()


class Secret:
    """Key bytes or a passphrase in a bytearray that wipe() zeroes."""

    def __init__(self, data: bytearray) -> None:
        self._data = data

    def __bytes__(self) -> bytes:
        return bytes(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return "Secret([redacted %d bytes])" % len(self._data)

    def wipe(self) -> None:
        buf = (ctypes.c_char * len(self._data)).from_buffer(self._data)
        _lib.volcrypt_wipe(buf, len(self._data))
        del buf

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.wipe()


def _secret_call(name, *args):
    """Calls a function that copies a secret into (buf, &len)."""
    size = ctypes.c_size_t(128)
    while True:
        buf = bytearray(size.value)
        cbuf = (ctypes.c_ubyte * len(buf)).from_buffer(buf)
        err = ctypes.c_void_p()
        rc = getattr(_lib, "volcrypt_" + name)(*args, cbuf, ctypes.byref(size),
                                               ctypes.byref(err))
        del cbuf
        if rc == -_errno.ERANGE:
            _lib.volcrypt_free(err.value)
            continue
        _check(rc, err, name)
        if size.value == len(buf):
            return Secret(buf)
        # A shorter secret: keep a copy of its bytes, wipe the whole buffer.
        secret = Secret(buf[: size.value])
        Secret(buf).wipe()
        return secret


class _Handle:
    _destroy = None

    def __init__(self):
        self._h = ctypes.c_void_p()

    def close(self) -> None:
        """Destroys the C handle; later calls on it fail. Idempotent."""
        if self._h:
            getattr(_lib, self._destroy)(self._h)
            self._h = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


class _Keys(_Handle):
    _destroy = "volcrypt_keys_destroy"

    def create_key(self, name: str, bits: int = 256) -> str:
        """Creates a random key named `name`; returns its id."""
        out = ctypes.c_void_p()
        _call("keys_create", self._h, ctypes.c_int(bits), _b(name), ctypes.byref(out))
        return _take_string(out)

    def get_key(self, key_id: str) -> "Secret":
        """The key's bytes, as a Secret to wipe when done."""
        return _secret_call("keys_get", self._h, _b(key_id))

    def delete_key(self, key_id: str) -> None:
        _call("keys_delete", self._h, _b(key_id))

    def store_key(self, key: bytes, name: str) -> str:
        """Stores the given bytes (16 to 64) as a new key; returns its id."""
        data = bytes(key)
        out = ctypes.c_void_p()
        _call("keys_store", self._h, data, ctypes.c_size_t(len(data)), _b(name),
              ctypes.byref(out))
        return _take_string(out)


class FileKeys(_Keys):
    def __init__(self, directory: str, master_key_path: str) -> None:
        super().__init__()
        _call("keys_open_file", _b(directory), _b(master_key_path), ctypes.byref(self._h))


class FixedKeys(_Keys):
    def __init__(self, fixed_key_path: str) -> None:
        super().__init__()
        _call("keys_open_fixed", _b(fixed_key_path), ctypes.byref(self._h))


class _BarbicanOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("endpoint", ctypes.c_char_p),
                ("ca_path", ctypes.c_char_p), ("timeout_seconds", ctypes.c_int),
                ("max_attempts", ctypes.c_int), ("project_id", ctypes.c_char_p),
                ("auth_url", ctypes.c_char_p), ("username", ctypes.c_char_p),
                ("password", ctypes.c_char_p), ("user_domain_name", ctypes.c_char_p),
                ("project_name", ctypes.c_char_p), ("project_domain_name", ctypes.c_char_p),
                ("application_credential_id", ctypes.c_char_p),
                ("application_credential_secret", ctypes.c_char_p),
                ("region", ctypes.c_char_p)]


class BarbicanKeys(_Keys):
    """OpenStack Barbican: with auth_url, Keystone tokens (password or
    application credential; the endpoint may come from the catalog), else a
    fixed project_id header."""

    def __init__(self, endpoint: Optional[str] = None, project_id: Optional[str] = None,
                 auth_url: Optional[str] = None, username: Optional[str] = None,
                 password: Optional[str] = None, project_name: Optional[str] = None,
                 user_domain_name: Optional[str] = None,
                 project_domain_name: Optional[str] = None,
                 application_credential_id: Optional[str] = None,
                 application_credential_secret: Optional[str] = None,
                 region: Optional[str] = None, ca_path: Optional[str] = None,
                 timeout_seconds: int = 0, max_attempts: int = 0) -> None:
        super().__init__()
        o = _BarbicanOptions(ctypes.sizeof(_BarbicanOptions), _b(endpoint), _b(ca_path),
                             timeout_seconds, max_attempts, _b(project_id), _b(auth_url),
                             _b(username), _b(password), _b(user_domain_name),
                             _b(project_name), _b(project_domain_name),
                             _b(application_credential_id),
                             _b(application_credential_secret), _b(region))
        _call("keys_open_barbican", ctypes.byref(o), ctypes.byref(self._h))


class _Store(_Handle):
    _destroy = "volcrypt_store_destroy"

    def volume(self, volume_id: str) -> Json:
        """The volume's record (cinder's field names)."""
        out = ctypes.c_void_p()
        _call("store_volume_json", self._h, _b(volume_id), ctypes.byref(out))
        return json.loads(_take_string(out))

    def volumes(self) -> List[Json]:
        """Every volume record."""
        out = ctypes.c_void_p()
        _call("store_list_json", self._h, ctypes.byref(out))
        return json.loads(_take_string(out))


class SqliteStore(_Store):
    def __init__(self, path: str) -> None:
        super().__init__()
        _call("store_open_sqlite", _b(path), ctypes.byref(self._h))


class PostgresStore(_Store):
    """A PostgreSQL volume database shared by hosts (a libpq connection string)."""

    def __init__(self, conninfo: str) -> None:
        super().__init__()
        _call("store_open_postgres", _b(conninfo), ctypes.byref(self._h))


_ON_ITEM = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int)


class _MigrateOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("host", ctypes.c_char_p),
                ("dry_run", ctypes.c_int), ("max_errors", ctypes.c_int),
                ("on_item", _ON_ITEM), ("context", ctypes.c_void_p)]


def migrate_fixed_keys(store: "_Store", fixed: Optional["_Keys"], destination: "_Keys",
                       host: Optional[str], dry_run: bool = False, max_errors: int = 3,
                       on_item: Optional[Callable[[Json, int, int], None]] = None) -> Json:
    """Moves `host`'s volumes and backups off castellan's fixed key (`fixed`:
    FixedKeys, or None if no fixed key is configured) to `destination`.
    on_item(item: dict, done: int, total: int) is called after each item.
    Returns the report: {"migrated", "failed", "skipped", "aborted",
    "volumes_remaining", "backups_remaining", "items": [...]}."""
    callback = _ON_ITEM(lambda _ctx, item, done, total:
                        on_item(json.loads(item), done, total)) if on_item else _ON_ITEM()
    o = _MigrateOptions(ctypes.sizeof(_MigrateOptions), _b(host), int(dry_run),
                        max_errors if max_errors > 0 else -1, callback, None)
    out = ctypes.c_void_p()
    _call("keys_migrate", store._h, fixed._h if fixed else None, destination._h,
          ctypes.byref(o), ctypes.byref(out))
    return json.loads(_take_string(out))


class _RotateOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("host", ctypes.c_char_p),
                ("key_created_before", ctypes.c_int64), ("dry_run", ctypes.c_int),
                ("max_errors", ctypes.c_int), ("on_item", _ON_ITEM),
                ("context", ctypes.c_void_p)]


def rotate_keys(service: "Service", store: "_Store", key_created_before: int = 0,
                host: Optional[str] = None, dry_run: bool = False, max_errors: int = 3,
                on_item: Optional[Callable[[Json, int, int], None]] = None) -> Json:
    """Rotates the key of every available or attached volume of `host` (None:
    the service's) whose key was made before `key_created_before` (Unix
    seconds; 0: now). Hosts sharing a database rotate each volume once.
    on_item(item: dict, done: int, total: int) is called after each volume.
    Returns the report: {"host", "rotated", "failed", "skipped", "aborted",
    "items": [...]}."""
    callback = _ON_ITEM(lambda _ctx, item, done, total:
                        on_item(json.loads(item), done, total)) if on_item else _ON_ITEM()
    o = _RotateOptions(ctypes.sizeof(_RotateOptions), _b(host), key_created_before,
                       int(dry_run), max_errors if max_errors > 0 else -1, callback, None)
    out = ctypes.c_void_p()
    _call("keys_rotate", service._h, store._h, ctypes.byref(o), ctypes.byref(out))
    return json.loads(_take_string(out))


_ON_PROGRESS = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64)


class _ConvertOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("reencrypt", ctypes.c_int),
                ("path", ctypes.c_char_p), ("pool", ctypes.c_char_p),
                ("image", ctypes.c_char_p), ("format", ctypes.c_char_p),
                ("engine", ctypes.c_char_p), ("key_bits", ctypes.c_int),
                ("sector_size", ctypes.c_uint32), ("keep_source", ctypes.c_int),
                ("on_progress", _ON_PROGRESS), ("context", ctypes.c_void_p),
                ("bandwidth", ctypes.c_uint64)]


class MappedBackend(_Handle):
    _destroy = "volcrypt_backend_destroy"

    def __init__(self) -> None:
        super().__init__()
        _call("backend_open_mapped", ctypes.byref(self._h))


class _RbdOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("ceph_conf", ctypes.c_char_p),
                ("client_id", ctypes.c_char_p), ("keyring", ctypes.c_char_p),
                ("timeout_seconds", ctypes.c_int),
                ("libvirt_auth_secret_uuid", ctypes.c_char_p)]


class RbdBackend(_Handle):
    _destroy = "volcrypt_backend_destroy"

    def __init__(self, ceph_conf: Optional[str] = None, client_id: Optional[str] = None,
                 keyring: Optional[str] = None, timeout_seconds: int = 0,
                 libvirt_auth_secret_uuid: Optional[str] = None) -> None:
        super().__init__()
        o = _RbdOptions(ctypes.sizeof(_RbdOptions), _b(ceph_conf), _b(client_id),
                        _b(keyring), timeout_seconds, _b(libvirt_auth_secret_uuid))
        _call("backend_open_rbd", ctypes.byref(o), ctypes.byref(self._h))


class Attacher(_Handle):
    _destroy = "volcrypt_attacher_destroy"

    def __init__(self, uri: str = "qemu:///system") -> None:
        super().__init__()
        _call("attacher_connect", _b(uri), ctypes.byref(self._h))

    def define_ceph_secret(self, ceph_conf: Optional[str] = None,
                           client_id: Optional[str] = None, keyring: Optional[str] = None,
                           uuid: Optional[str] = None) -> str:
        """Puts the client's cephx key (read by the library from its keyring,
        never through Python) into libvirt's secret of usage 'ceph' that rbd
        disks' <auth> names; returns its UUID (`uuid`, else the one of usage
        "client.<id> secret", else a new one)."""
        o = _RbdOptions(ctypes.sizeof(_RbdOptions), _b(ceph_conf), _b(client_id),
                        _b(keyring), 0, _b(uuid))
        buf = ctypes.create_string_buffer(37)
        _call("ceph_secret_define", self._h, ctypes.byref(o), buf, ctypes.sizeof(buf))
        return buf.value.decode()

    def check_ceph_secret(self, uuid: str, ceph_conf: Optional[str] = None,
                          client_id: Optional[str] = None,
                          keyring: Optional[str] = None) -> None:
        """Raises NotFoundError if libvirt lacks ceph secret `uuid`, and
        VolcryptError (ENOKEY, EKEYREJECTED, EEXIST) if it has no value,
        another key (where readable) or another usage."""
        o = _RbdOptions(ctypes.sizeof(_RbdOptions), _b(ceph_conf), _b(client_id),
                        _b(keyring), 0, _b(uuid))
        _call("ceph_secret_check", self._h, ctypes.byref(o))


class _ServiceOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("keys", ctypes.c_void_p),
                ("store", ctypes.c_void_p), ("mapped", ctypes.c_void_p),
                ("rbd", ctypes.c_void_p), ("attacher", ctypes.c_void_p),
                ("host", ctypes.c_char_p)]


class _CreateRequest(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("id", ctypes.c_char_p),
                ("path", ctypes.c_char_p), ("pool", ctypes.c_char_p),
                ("image", ctypes.c_char_p), ("size_bytes", ctypes.c_uint64),
                ("format", ctypes.c_char_p), ("cipher", ctypes.c_char_p),
                ("key_bits", ctypes.c_int), ("engine", ctypes.c_char_p),
                ("kdf", ctypes.c_char_p), ("defer_format", ctypes.c_int),
                ("user_id", ctypes.c_char_p), ("project_id", ctypes.c_char_p),
                ("native_format", ctypes.c_int)]


class _AttachOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("target_dev", ctypes.c_char_p),
                ("target_bus", ctypes.c_char_p), ("ephemeral_secret", ctypes.c_int),
                ("live", ctypes.c_int), ("config", ctypes.c_int)]


def _attach_options(target_dev: Optional[str], target_bus: Optional[str],
                    ephemeral_secret: bool, live: bool = True,
                    config: bool = False) -> _AttachOptions:
    return _AttachOptions(ctypes.sizeof(_AttachOptions), _b(target_dev), _b(target_bus),
                          int(ephemeral_secret), int(live), int(config))


class _ManageRequest(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("id", ctypes.c_char_p),
                ("path", ctypes.c_char_p), ("pool", ctypes.c_char_p),
                ("image", ctypes.c_char_p), ("engine", ctypes.c_char_p),
                ("key_id", ctypes.c_char_p), ("key", ctypes.c_char_p),
                ("key_len", ctypes.c_size_t), ("is_passphrase", ctypes.c_int),
                ("unencrypted", ctypes.c_int), ("size_bytes", ctypes.c_uint64),
                ("user_id", ctypes.c_char_p), ("project_id", ctypes.c_char_p)]


class AttachPlan:
    """The libvirt secret XML, disk XML, and the passphrase (a Secret) to set
    as the secret's value."""

    def __init__(self, secret_xml: str, disk_xml: str, passphrase: "Secret") -> None:
        self.secret_xml = secret_xml
        self.disk_xml = disk_xml
        self.passphrase = passphrase


class _DomainMigrateOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("domain", ctypes.c_char_p),
                ("source_uri", ctypes.c_char_p), ("destination_uri", ctypes.c_char_p),
                ("destination_host", ctypes.c_char_p), ("migrate_uri", ctypes.c_char_p)]


class Service(_Handle):
    """The volume service. It borrows the handles given to it: keep them open
    while the service is."""

    _destroy = "volcrypt_service_destroy"

    def __init__(self, keys: "_Keys", store: "_Store", mapped: Optional["MappedBackend"] = None,
                 rbd: Optional["RbdBackend"] = None, attacher: Optional["Attacher"] = None,
                 host: Optional[str] = None) -> None:
        super().__init__()
        self._borrowed = (keys, store, mapped, rbd, attacher)
        handle = lambda h: h._h if h is not None else None  # noqa: E731
        o = _ServiceOptions(ctypes.sizeof(_ServiceOptions), handle(keys), handle(store),
                            handle(mapped), handle(rbd), handle(attacher), _b(host))
        _call("service_create", ctypes.byref(o), ctypes.byref(self._h))

    def create_volume(self, size_bytes: int, path: Optional[str] = None,
                      pool: Optional[str] = None, image: Optional[str] = None,
                      id: Optional[str] = None, format: Optional[str] = None,
                      cipher: Optional[str] = None, key_bits: int = 0,
                      engine: Optional[str] = None, kdf: Optional[str] = None,
                      defer_format: bool = False, user_id: Optional[str] = None,
                      project_id: Optional[str] = None, native_format: bool = False) -> Json:
        """Creates an encrypted volume at `path` (mapped) or `pool`/`image`
        (rbd); returns its record. native_format: rbd with engine "librbd",
        librbd writes the header (its own, slow KDF)."""
        r = _CreateRequest(ctypes.sizeof(_CreateRequest), _b(id), _b(path), _b(pool),
                           _b(image), size_bytes, _b(format), _b(cipher), key_bits,
                           _b(engine), _b(kdf), 1 if defer_format else 0, _b(user_id),
                           _b(project_id), int(native_format))
        out = ctypes.c_void_p()
        _call("volume_create", self._h, ctypes.byref(r), ctypes.byref(out))
        return json.loads(_take_string(out))

    def delete_volume(self, volume_id: str) -> None:
        _call("volume_delete", self._h, _b(volume_id))

    def manage_volume(self, path: Optional[str] = None, pool: Optional[str] = None,
                      image: Optional[str] = None, id: Optional[str] = None,
                      engine: Optional[str] = None, key_id: Optional[str] = None,
                      key: Optional[bytes] = None, passphrase: Optional[bytes] = None,
                      unencrypted: bool = False, size_bytes: int = 0,
                      user_id: Optional[str] = None,
                      project_id: Optional[str] = None) -> Dict[str, Any]:
        """Takes over an existing volume without writing to it. Give exactly
        one of key_id (a key in the key manager), key (raw bytes, stored),
        passphrase (stored as it is, never hexed) or unencrypted=True."""
        secret = key if key is not None else passphrase
        data = bytes(secret) if secret is not None else None
        r = _ManageRequest(ctypes.sizeof(_ManageRequest), _b(id), _b(path), _b(pool),
                           _b(image), _b(engine), _b(key_id), data,
                           len(data) if data is not None else 0,
                           1 if passphrase is not None else 0, 1 if unencrypted else 0,
                           size_bytes, _b(user_id), _b(project_id))
        out = ctypes.c_void_p()
        _call("volume_manage", self._h, ctypes.byref(r), ctypes.byref(out))
        return json.loads(_take_string(out))

    def unmanage_volume(self, volume_id: str) -> None:
        """Forgets the record; the volume and its key stay."""
        _call("volume_unmanage", self._h, _b(volume_id))

    def extend_volume(self, volume_id: str, size_bytes: int) -> None:
        """Grows the volume so the guest sees exactly `size_bytes`."""
        _call("volume_extend", self._h, _b(volume_id), ctypes.c_uint64(size_bytes))

    def rekey_volume(self, volume_id: str) -> dict:
        """A new key for the volume, same data (docs/flows.md, "Key
        rotation"). Returns the record afterwards."""
        out = ctypes.c_void_p()
        _call("volume_rekey", self._h, _b(volume_id), ctypes.byref(out))
        return json.loads(_take_string(out))

    def migrate_domain(self, domain: str, destination: Optional["Attacher"], source_uri: str,
                       destination_uri: str, destination_host: Optional[str] = None,
                       migrate_uri: Optional[str] = None) -> dict:
        """Moves running `domain` live from this service's libvirt to
        `destination` (an Attacher on `destination_uri`) with its volcrypt
        volumes: their secrets are defined there first, the records follow
        the domain, the source's secrets go; a failed move is undone.
        destination_host: the host the records will name (None: the
        destination daemon's host name). Returns {"domain", "volumes"}."""
        o = _DomainMigrateOptions(ctypes.sizeof(_DomainMigrateOptions), _b(domain),
                                  _b(source_uri), _b(destination_uri), _b(destination_host),
                                  _b(migrate_uri))
        out = ctypes.c_void_p()
        _call("domain_migrate", self._h, destination._h if destination is not None else None,
              ctypes.byref(o), ctypes.byref(out))
        return json.loads(_take_string(out))

    def convert_volume(self, volume_id: str, reencrypt: bool, path: Optional[str] = None,
                       pool: Optional[str] = None, image: Optional[str] = None,
                       format: Optional[str] = None, engine: Optional[str] = None,
                       key_bits: int = 0, sector_size: int = 0, keep_source: bool = False,
                       on_progress: Optional[Callable[[int, int], None]] = None,
                       bandwidth: int = 0) -> dict:
        """Copies the volume into a new one at `path` (or `pool`/`image`)
        under a new volume key, verifies it and switches the record to it
        (reencrypt=False: a plain volume becomes encrypted). on_progress(done,
        total) gets payload bytes; bandwidth caps the copy in bytes per
        second (0: unlimited). Returns the record afterwards."""
        callback = (_ON_PROGRESS(lambda _ctx, done, total: on_progress(done, total))
                    if on_progress else _ON_PROGRESS())
        o = _ConvertOptions(ctypes.sizeof(_ConvertOptions), int(reencrypt), _b(path), _b(pool),
                            _b(image), _b(format), _b(engine), key_bits, sector_size,
                            int(keep_source), callback, None, bandwidth)
        out = ctypes.c_void_p()
        _call("volume_convert", self._h, _b(volume_id), ctypes.byref(o), ctypes.byref(out))
        return json.loads(_take_string(out))

    def verify_volume(self, volume_id: str) -> int:
        """The keyslot the volume's key opens (record, key and header agree)."""
        slot = ctypes.c_int()
        _call("volume_verify", self._h, _b(volume_id), ctypes.byref(slot))
        return slot.value

    def attach_plan(self, volume_id: str, target_dev: Optional[str] = None,
                    target_bus: Optional[str] = None,
                    ephemeral_secret: bool = False) -> AttachPlan:
        """The secret XML, disk XML and passphrase for the caller's own libvirt
        code. ephemeral_secret: the secret's value stays in libvirtd's memory."""
        secret_xml, disk_xml = ctypes.c_void_p(), ctypes.c_void_p()
        o = _attach_options(target_dev, target_bus, ephemeral_secret)
        passphrase = _secret_call("volume_attach_plan_with_options", self._h, _b(volume_id),
                                  ctypes.byref(o), ctypes.byref(secret_xml),
                                  ctypes.byref(disk_xml))
        return AttachPlan(_take_string(secret_xml), _take_string(disk_xml), passphrase)

    def attach_volume(self, volume_id: str, domain: str, live: bool = True, config: bool = False,
                      target_dev: Optional[str] = None, target_bus: Optional[str] = None,
                      ephemeral_secret: bool = False) -> None:
        """Attaches through libvirt, live and/or to the persistent config."""
        if not live and not config:
            raise InvalidArgumentError(_errno.EINVAL, "attach needs live, config or both",
                                       "volume_attach_with_options")
        o = _attach_options(target_dev, target_bus, ephemeral_secret, live, config)
        _call("volume_attach_with_options", self._h, _b(volume_id), _b(domain),
              ctypes.byref(o))

    def write_passphrase(self, volume_id: str, fd: int) -> None:
        """Writes the volume's LUKS passphrase to file descriptor `fd` (a pipe
        to cryptsetup or qemu-img), so no Python object ever holds it."""
        _call("volume_write_passphrase", self._h, _b(volume_id), ctypes.c_int(fd))

    def create_snapshot(self, volume_id: str, snapshot_id: str) -> Json:
        """Snapshots an rbd volume; returns the snapshot record."""
        out = ctypes.c_void_p()
        _call("volume_snapshot", self._h, _b(volume_id), _b(snapshot_id), ctypes.byref(out))
        return json.loads(_take_string(out))

    def delete_snapshot(self, snapshot_id: str) -> None:
        _call("snapshot_delete", self._h, _b(snapshot_id))

    def clone_volume(self, snapshot_id: str, new_volume_id: str, pool: str,
                     image: str) -> Json:
        """Clones a snapshot into a new rbd volume with its own key id (same
        key bytes); returns the new volume's record."""
        out = ctypes.c_void_p()
        _call("volume_clone", self._h, _b(snapshot_id), _b(new_volume_id), _b(pool),
              _b(image), ctypes.byref(out))
        return json.loads(_take_string(out))

    def detach_volume(self, volume_id: str) -> None:
        _call("volume_detach", self._h, _b(volume_id))

    def reconcile(self, grace_seconds: int = 600) -> int:
        """Finishes or undoes what crashes left; returns how many records it acted on."""
        acted = ctypes.c_int()
        _call("reconcile", self._h, ctypes.c_int64(grace_seconds), ctypes.byref(acted))
        return acted.value


def luks_inspect(path: str) -> Json:
    """The LUKS header facts of the volume at `path`."""
    out = ctypes.c_void_p()
    _call("luks_inspect", _b(path), ctypes.byref(out))
    return json.loads(_take_string(out))


def luks_verify_passphrase(path: str, passphrase: Union[bytes, bytearray, "Secret"]) -> int:
    """The keyslot `passphrase` opens in the header at `path`."""
    data = bytes(passphrase)
    slot = ctypes.c_int()
    _call("luks_verify_passphrase", _b(path), data, ctypes.c_size_t(len(data)),
          ctypes.byref(slot))
    return slot.value
