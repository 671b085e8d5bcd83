// volcrypt: the operator's command-line tool, a thin layer over the public
// C++ API (VolumeService and friends). Run `volcrypt help` for usage.
// Exit codes: 0 done, 1 the operation failed, 2 a usage error. Errors are one
// line on stderr naming what failed. Key bytes are never printed, except
// `volume passphrase`, which writes to a pipe or file only, never a terminal.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "examples/cli/args.h"
#include "examples/cli/engine_choice.h"
#include "examples/cli/keys_migrate.h"
#include "examples/cli/volume_rekey.h"
#include "examples/cli/domain_migrate.h"
#include "examples/cli/keys_rotate.h"
#include "examples/cli/process_guard.h"
#include "examples/cli/ceph_secret.h"
#include "examples/cli/volume_manage.h"
#include "examples/cli/volume_convert.h"
#include <nlohmann/json.hpp>
#include "volcrypt/attacher.h"
#include "volcrypt/barbican_key_manager.h"
#include "volcrypt/errors.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/json.h"
#include "volcrypt/fixed_key_manager.h"
#include "volcrypt/luks.h"
#include "volcrypt/mapped_backend.h"
#include "volcrypt/rbd_backend.h"
#include "volcrypt/size_rule.h"
#include "volcrypt/volume_service.h"

namespace volcrypt_cli {
namespace {

using namespace volcrypt;

constexpr char kUsage[] = R"(usage: volcrypt [GLOBAL OPTIONS] COMMAND ...

Global options:
  --state-dir DIR        default for the three below: /var/lib/volcrypt as root,
                         else $XDG_STATE_HOME/volcrypt (~/.local/state/volcrypt)
  --db PATH              volume database (SQLite)          [STATE/volumes.db]
  --postgres CONNINFO    volume database in PostgreSQL, shared by hosts (a
                         libpq string: "host=H dbname=D user=U"; passwords
                         belong in ~/.pgpass, not on the command line)
  --keys DIR --master-key FILE
                         file key manager: directory and 32-byte master key
                         (raw or 64 hex chars)  [STATE/keys, STATE/master.key,
                         the master key generated 0600 on first use]
  --fixed-key-file FILE  castellan's fixed key (hex), instead of --keys
  --barbican URL --project-id ID [--barbican-ca FILE]
                         Barbican (REST v1, X-Project-Id), instead of --keys
  --auth-url URL (--username U --password-file F --project-name P
                 [--user-domain D] [--project-domain D] |
                 --app-credential-id ID --app-credential-secret-file F)
                 [--barbican URL] [--region R]
                         Barbican with Keystone v3 tokens; the endpoint from
                         the catalog unless --barbican is given. Secrets are
                         read from files only their owner may read
  --host NAME            this host's name                  [the system's]
  --ceph-conf FILE       Ceph cluster for rbd volumes (needed by every command
                         on them)                     [/etc/ceph/ceph.conf]
  --ceph-id ID           cephx user, without "client."                [admin]
  --ceph-keyring FILE    cephx keyring                      [from ceph.conf]
  --libvirt-ceph-secret UUID
                         libvirt secret holding the cephx key, for rbd disk XML

Commands:
  volume create --backend mapped --path PATH --size SIZE [--format luks1|luks2]
                [--cipher C] [--key-size BITS] [--id ID] [--defer-format]
                [--kdf machine-key|passphrase] [--user-id U] [--project-id P]
                [--sector-size 512|1024|2048|4096] (LUKS2 only)
                [--engine auto|qemu|librbd] [--attach-mode live|cold]
                [--connect URI]
                (auto, the default: the fastest engine this host's libvirt
                can attach as --attach-mode says (default live, probed at
                URI, default qemu:///system): librbd + LUKS2 for rbd where
                it can, else qemu + LUKS1; files: qemu + LUKS1)
  volume create --backend rbd --pool P --image I --size SIZE
                [--engine qemu|librbd] [--native-format] [same options]
                (--engine librbd for LUKS2; --native-format: librbd's own,
                slow, header instead of volcrypt's)
  volume snapshot ID SNAPSHOT_ID       (rbd only)
  volume clone SNAPSHOT_ID NEW_ID --pool P --image I
  volume snapshot-delete SNAPSHOT_ID
  volume show ID          volume list
  volume delete ID [--connect URI]
                          refused while a libvirt domain uses the volume
                          (checked at URI, default qemu:///system; if that
                          default is unreachable, a warning and no check)
  volume extend ID SIZE   volume verify ID
  volume rekey ID [--connect URI]
                          a new key, same data: new keyslot, new key id
                          recorded, old keyslots removed, old key deleted
                          unless a snapshot or backup uses it (attached
                          volumes need --connect: the secret follows)
  domain migrate NAME --connect SRC --to DEST_URI [--to-host H] [--migrate-uri URI]
                          move a running domain live with its volcrypt volumes
                          (their secrets defined on DEST first; RBD, or files
                          on a path both hosts share)
  reconcile [--grace SECONDS] [--connect URI]
                          finish or undo what a crash left (attachments need
                          --connect)
  volume passphrase ID    write the volume's LUKS passphrase to stdout, which
                          must be a pipe or a file, never a terminal
  attach-xml ID [--target DEV] [--bus BUS] [--ephemeral]
                          print the libvirt secret XML and disk XML
  attach ID --domain NAME [--connect URI] [--target DEV] [--bus BUS]
         [--live] [--config] [--ephemeral]
                          attach through libvirt (default --live; URI default
                          qemu:///system): secret defined, value set, disk added
  detach ID [--domain NAME] [--connect URI]
                          detach; the secret goes when no disk uses it
  ceph-secret define [--connect URI]
                          put client.ID's cephx key (from --ceph-keyring or
                          ceph.conf's keyring) into libvirt's secret of usage
                          ceph, private and persistent: --libvirt-ceph-secret's
                          UUID, else the one of that usage, else a new one;
                          prints {"uuid": ...}
  ceph-secret check --libvirt-ceph-secret UUID [--connect URI]
                          exit 0 if it exists, has a value and (unless
                          private) holds the keyring's key; attach of an rbd
                          volume checks the same and refuses without it
  luks inspect PATH       header facts as JSON
  luks inspect --backend rbd --pool P --image I
                          the same, read through librbd
  volume manage (--backend mapped --path P | --backend rbd --pool P --image I
                [--engine qemu|librbd]) (--key-id ID | --key-file F |
                --passphrase-file F | --unencrypted) [--id ID] [--size SIZE]
                [--user-id U] [--project-id P]
                          take over an existing volume without writing to it:
                          its key opens a keyslot, its size comes from its
                          header (--size must match it); files read as is
  volume unmanage ID      forget the record; the volume and its key stay
  volume encrypt ID (--path P | --pool P --image I) [--format luks1|luks2]
                [--engine qemu|librbd] [--key-size BITS] [--sector-size B]
                [--keep-source] [--bandwidth BYTES/s, e.g. 64M] [--json]
                          copy a plain volume into a new encrypted one, verify,
                          switch the record to it, delete the plain source
                          (kept with --keep-source); after a kill: rerun, or
                          reconcile goes back to the source
  volume reencrypt ID (same target options)
                          the same for an encrypted volume: a new volume key
                          (and perhaps format or engine); the old key goes
                          either, given --connect URI, converts a volume
                          attached to a running domain live: libvirt's block
                          copy, then a pivot; --json prints its progress too
  keys migrate --fixed-key-file FILE (--barbican URL --project-id ID |
               --auth-url URL ... | --keys DIR --master-key FILE) [--host H]
               [--dry-run] [--json] [--rekey [--ceph-conf F] [--connect URI]]
               [--max-errors N]
                          move this host's volumes and backups off the fixed
                          key (the all-zeros id), cinder's way; rerun after
                          any failure. Exit 1 if an item failed. --rekey:
                          then a random key of its own for every volume (no
                          volume opens with the fixed key afterwards; its
                          snapshots and old header copies still do)
  keys rotate [--host H] [--older-than DURATION | --created-before UNIX]
              [--dry-run] [--json] [--max-errors N] [--connect URI]
                          a new key for every volume of the host whose key
                          is older (90d, 12h, 30m, 45s; default: made before
                          now); hosts sharing a database rotate each volume
                          once; after a kill: reconcile, then rerun with the
                          --created-before the first line printed
SIZE takes K, M, G, T suffixes (binary units).
)";

constexpr int kFailed = 1;
constexpr int kUsageError = 2;
// reconcile --grace: a year, longer than any step takes, far from
// overflowing the time arithmetic it feeds.
constexpr int64_t kMaxGraceSeconds = 366 * 24 * 3600;

// An error is one short line whatever the input held: `what` names the
// command and may carry an id or path from the command line (10 KB, a
// newline, terminal escapes), so control and non-ASCII bytes are escaped and
// each part is cut.
std::string OneLine(absl::string_view text, size_t max_bytes) {
  std::string out;
  for (char c : text.substr(0, max_bytes)) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(u, absl::kZeroPad2));
    } else {
      out += c;
    }
  }
  if (text.size() > max_bytes) absl::StrAppend(&out, "... (", text.size(), " bytes)");
  return out;
}

int Fail(const std::string& what, const absl::Status& s) {
  // At most ~300 bytes in all: the command part first gives way.
  const std::string head = OneLine(what, 64);
  const size_t room = head.size() < 200 ? 280 - head.size() : 80;
  std::fprintf(stderr, "volcrypt: %s: %s\n", head.c_str(),
               OneLine(s.message(), room - 24).c_str());
  return kFailed;
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "volcrypt: %s (see 'volcrypt help')\n", OneLine(message, 240).c_str());
  return kUsageError;
}

std::string DefaultStateDir() {
  if (geteuid() == 0) return "/var/lib/volcrypt";
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) {
    return std::string(xdg) + "/volcrypt";
  }
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.local/state/volcrypt";
}

// Everything a command needs, opened from the global options.
struct Context {
  std::unique_ptr<KeyManager> keys;
  std::unique_ptr<VolumeStore> store;
  std::unique_ptr<BlockBackend> mapped;
  std::unique_ptr<RbdBackend> rbd;     // only with --ceph-conf or --backend rbd
  std::unique_ptr<Attacher> attacher;  // for attach, detach, delete, reconcile
  std::unique_ptr<VolumeService> service;
};

std::string StateDir(const Args& args) {
  return args.Get("state-dir").value_or(DefaultStateDir());
}

// --auth-url and friends: a Keystone session (password or application
// credential, secrets read from 0600 files).
absl::StatusOr<std::shared_ptr<KeystoneSession>> OpenKeystone(const Args& args) {
  KeystoneOptions k;
  k.auth_url = *args.Get("auth-url");
  k.ca_path = args.Get("barbican-ca").value_or("");
  k.region = args.Get("region").value_or("");
  if (auto id = args.Get("app-credential-id")) {
    k.application_credential_id = *id;
    auto file = args.Get("app-credential-secret-file");
    if (!file) return absl::InvalidArgumentError("--app-credential-id needs --app-credential-secret-file");
    absl::StatusOr<SecretBytes> secret = ReadPasswordFile(*file);
    if (!secret.ok()) return secret.status();
    k.application_credential_secret = std::move(*secret);
  } else {
    k.username = args.Get("username").value_or("");
    k.user_domain_name = args.Get("user-domain").value_or("Default");
    k.project_name = args.Get("project-name").value_or("");
    k.project_domain_name = args.Get("project-domain").value_or("Default");
    auto file = args.Get("password-file");
    if (!file) return absl::InvalidArgumentError("--username needs --password-file");
    absl::StatusOr<SecretBytes> password = ReadPasswordFile(*file);
    if (!password.ok()) return password.status();
    k.password = std::move(*password);
  }
  return KeystoneSession::Create(std::move(k));
}

// --barbican URL with --project-id, or --auth-url (Keystone; the endpoint
// from the catalog unless --barbican is given).
absl::StatusOr<std::unique_ptr<KeyManager>> OpenBarbican(const Args& args) {
  BarbicanOptions bo;
  bo.endpoint = args.Get("barbican").value_or("");
  bo.ca_path = args.Get("barbican-ca").value_or("");
  if (args.Has("auth-url")) {
    absl::StatusOr<std::shared_ptr<KeystoneSession>> session = OpenKeystone(args);
    if (!session.ok()) return session.status();
    bo.keystone = std::move(*session);
  } else {
    bo.project_id = args.Get("project-id").value_or("");
  }
  return NewBarbicanKeyManager(bo, nullptr);
}

absl::StatusOr<std::unique_ptr<KeyManager>> OpenFixedKey(const Args& args) {
  absl::StatusOr<SecretBytes> key = ReadFixedKeyFile(*args.Get("fixed-key-file"));
  if (!key.ok()) return key.status();
  return NewFixedKeyManager(std::move(*key), nullptr);
}

absl::StatusOr<std::unique_ptr<KeyManager>> OpenFileKeys(const Args& args) {
  const std::string state = StateDir(args);
  const std::string master_path = args.Get("master-key").value_or(state + "/master.key");
  absl::StatusOr<SecretBytes> master = ReadMasterKeyFile(master_path);
  if (absl::IsNotFound(master.status()) && !args.Has("master-key")) {
    master = CreateMasterKeyFile(master_path);  // first use of the defaults
    // Another command's first use won the race: use its key.
    if (absl::IsAlreadyExists(master.status())) master = ReadMasterKeyFile(master_path);
  }
  if (!master.ok()) return master.status();
  return NewFileKeyManager(args.Get("keys").value_or(state + "/keys"),
                           std::move(*master), nullptr);
}

bool UsesBarbican(const Args& args) {
  return args.Has("barbican") || args.Has("auth-url");
}

// --postgres CONNINFO, else the SQLite file of --db (or the state dir).
// `read_only` for commands that only read: no write lock, no upgrade; a
// database not made yet, or made by an older volcrypt, is first opened
// read-write once (that creates or upgrades it).
absl::StatusOr<std::unique_ptr<VolumeStore>> OpenStore(const Args& args,
                                                       bool read_only = false) {
  VolumeStoreOptions o;
  o.read_only = read_only;
  auto open = [&] {
    if (auto pg = args.Get("postgres")) return OpenPostgresVolumeStore(*pg, o);
    return OpenSqliteVolumeStore(args.Get("db").value_or(StateDir(args) + "/volumes.db"), o);
  };
  absl::StatusOr<std::unique_ptr<VolumeStore>> store = open();
  if (read_only && (absl::IsNotFound(store.status()) || ErrnoOf(store.status()) == ESTALE)) {
    o.read_only = false;
    if (absl::StatusOr<std::unique_ptr<VolumeStore>> made = open(); !made.ok()) return made;
    o.read_only = true;
    store = open();
  }
  return store;
}

// Commands that only read the volume database.
bool ReadsOnly(const std::vector<std::string>& words) {
  static const std::set<std::string> kReads = {"list", "show", "verify", "passphrase"};
  return words[0] == "attach-xml" ||
         (words[0] == "volume" && words.size() > 1 && kReads.count(words[1]) > 0);
}

// `volume show` and `volume list` read only the database: they open no key
// manager, whose master key unseal would cost them OpenSSL's start-up (a
// third of a `volume show` process; issue #16), nor any backend.
bool ReadsStoreOnly(const std::vector<std::string>& words) {
  return words[0] == "volume" && words.size() > 1 && (words[1] == "show" || words[1] == "list");
}
int RunVolume(const Args& args, const std::vector<std::string>& words, Context& c);
absl::Status MakeStateDir(const Args& args, bool file_keys);
int RunStoreRead(const Args& args, const std::vector<std::string>& words) {
  if (absl::Status s = MakeStateDir(args, false); !s.ok()) return Fail("open", s);
  absl::StatusOr<std::unique_ptr<VolumeStore>> store = OpenStore(args, /*read_only=*/true);
  if (!store.ok()) return Fail("open", store.status());
  Context c;
  c.store = std::move(*store);
  return RunVolume(args, words, c);
}

// Creates the state directory unless every path is given: the database and,
// when `file_keys`, the key directory and master key.
absl::Status MakeStateDir(const Args& args, bool file_keys) {
  const std::string state = StateDir(args);
  const bool explicit_paths =
      (args.Has("db") || args.Has("postgres")) &&
      (!file_keys || (args.Has("keys") && args.Has("master-key")));
  if (!explicit_paths && mkdir(state.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError("cannot create state directory " + state);
  }
  return absl::OkStatus();
}

// Whether a command talks to libvirt: it must (attach, detach, anything
// given --connect), or it checks libvirt when the default URI answers
// (volume delete: is a domain still using the volume?).
enum class LibvirtUse { kNo, kRequired, kIfReachable };

#ifdef VOLCRYPT_CLI_WITH_LIBVIRT
constexpr bool kCliWithLibvirt = true;
#else
constexpr bool kCliWithLibvirt = false;  // meson -Dlibvirt=disabled
#endif

absl::StatusOr<Context> OpenContext(const Args& args, LibvirtUse libvirt,
                                   bool read_only) {
  const bool file_keys = !UsesBarbican(args) && !args.Has("fixed-key-file");
  if (absl::Status s = MakeStateDir(args, file_keys); !s.ok()) return s;
  Context c;
  absl::StatusOr<std::unique_ptr<KeyManager>> keys =
      UsesBarbican(args)           ? OpenBarbican(args)
      : args.Has("fixed-key-file") ? OpenFixedKey(args)
                                   : OpenFileKeys(args);
  if (!keys.ok()) return keys.status();
  c.keys = std::move(*keys);
  absl::StatusOr<std::unique_ptr<VolumeStore>> store = OpenStore(args, read_only);
  if (!store.ok()) return store.status();
  c.store = std::move(*store);
  c.mapped = NewMappedBackend();
  if (args.Has("ceph-conf") || args.Get("backend") == std::optional<std::string>("rbd")) {
    RbdBackendOptions ro;
    ro.ceph_conf = args.Get("ceph-conf").value_or("");
    ro.client_id = args.Get("ceph-id").value_or("admin");
    ro.keyring = args.Get("ceph-keyring").value_or("");
    ro.libvirt_auth_secret_uuid = args.Get("libvirt-ceph-secret").value_or("");
    absl::StatusOr<std::unique_ptr<RbdBackend>> rbd = RbdBackend::Connect(ro);
    if (!rbd.ok()) return rbd.status();
    c.rbd = std::move(*rbd);
  }
  if (libvirt != LibvirtUse::kNo) {
    const std::string uri = args.Get("connect").value_or("qemu:///system");
    absl::StatusOr<std::unique_ptr<Attacher>> attacher = Attacher::Connect(uri);
    // A volcrypt built with libvirt whose module cannot be loaded is broken,
    // not libvirt-less: a delete must not skip its in-use check for that.
    const bool broken_install =
        kCliWithLibvirt && ErrnoOf(attacher.status()) == ENOTSUP;
    if (attacher.ok()) {
      c.attacher = std::move(*attacher);
    } else if (libvirt == LibvirtUse::kRequired || broken_install) {
      return attacher.status();
    } else {
      std::cerr << "volcrypt: warning: libvirt at " << uri
                << " is unreachable; not checking whether a domain uses the volume\n";
    }
  }
  VolumeServiceOptions o;
  o.attacher = c.attacher.get();
  o.keys = c.keys.get();
  o.store = c.store.get();
  o.mapped = c.mapped.get();
  o.rbd = c.rbd.get();
  o.host = args.Get("host").value_or("");
  absl::StatusOr<std::unique_ptr<VolumeService>> service = VolumeService::Create(o);
  if (!service.ok()) return service.status();
  c.service = std::move(*service);
  return c;
}

void PrintJson(const nlohmann::json& j) {
  std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

// The location given by --path (mapped) or --pool/--image (rbd).
std::optional<VolumeLocation> LocationFrom(const Args& args, const std::string& backend) {
  if (backend == "rbd") {
    auto pool = args.Get("pool");
    auto image = args.Get("image");
    if (!pool || !image) return std::nullopt;
    return VolumeLocation::Rbd(*pool, *image);
  }
  auto path = args.Get("path");
  if (!path) return std::nullopt;
  return VolumeLocation::Path(*path);
}

int VolumeCreate(const Args& args, Context& c) {
  const std::string backend = args.Get("backend").value_or("mapped");
  if (backend != "mapped" && backend != "rbd") {
    return Usage("--backend " + backend + " is not known (use mapped or rbd)");
  }
  std::optional<VolumeLocation> where = LocationFrom(args, backend);
  auto size = args.Get("size");
  if (!where || !size) {
    return Usage(backend == "rbd" ? "volume create --backend rbd needs --pool, --image and --size"
                                  : "volume create needs --path and --size");
  }
  const std::string* path = &where->path;
  const std::string rbd_name = where->DebugString();
  if (backend == "rbd") path = &rbd_name;
  CreateVolumeRequest req;
  req.id = args.Get("id").value_or("");
  req.location = *where;
  const std::string engine = args.Get("engine").value_or("auto");
  if (engine != "auto") {
    absl::StatusOr<EncryptionEngine> e = ParseEncryptionEngine(engine);
    if (!e.ok()) return Usage(std::string(e.status().message()));
    req.encryption.engine = *e;
  }
  req.native_rbd_format = args.Has("native-format");
  absl::StatusOr<uint64_t> bytes = ParseSize(*size);
  if (!bytes.ok()) return Usage(std::string(bytes.status().message()));
  req.size_bytes = *bytes;
  if (auto f = args.Get("format")) {
    absl::StatusOr<LuksFormat> format = ParseLuksFormat(*f);
    if (!format.ok()) return Usage(std::string(format.status().message()));
    req.encryption.format = *format;
  }
  if (auto cipher = args.Get("cipher")) req.encryption.cipher = *cipher;
  if (auto bits = args.Get("key-size")) {
    std::map<std::string, std::string> spec = {{"key_size", *bits},
                                               {"cipher", req.encryption.cipher}};
    absl::StatusOr<EncryptionSpec> parsed = ParseCinderSpec(spec);
    if (!parsed.ok()) return Usage(std::string(parsed.status().message()));
    req.encryption.key_bits = parsed->key_bits;
  }
  if (auto kdf = args.Get("kdf")) {
    absl::StatusOr<KdfPolicy> policy = ParseKdfPolicy(*kdf);
    if (!policy.ok()) return Usage(std::string(policy.status().message()));
    req.encryption.kdf = *policy;
  }
  if (auto sector = args.Get("sector-size")) {
    if (*sector != "512" && *sector != "1024" && *sector != "2048" && *sector != "4096") {
      return Usage("--sector-size " + *sector + " is not 512, 1024, 2048 or 4096");
    }
    req.encryption.sector_size = static_cast<uint32_t>(std::stoul(*sector));
  }
  req.defer_format = args.Has("defer-format");
  if (engine == "auto") {
    const std::string mode = args.Get("attach-mode").value_or("live");
    if (mode != "live" && mode != "cold") {
      return Usage("--attach-mode " + mode + " is not known (use live or cold)");
    }
    absl::StatusOr<EncryptionSpec> chosen =
        ChooseEngineForCli(req, args.Has("format"), mode == "live", args.Get("connect"));
    if (!chosen.ok()) return Fail("volume create " + *path, chosen.status());
    req.encryption = *chosen;
  }
  req.user_id = args.Get("user-id").value_or("");
  req.project_id = args.Get("project-id").value_or("");
  absl::StatusOr<VolumeRecord> v = c.service->CreateVolume(req);
  if (!v.ok()) return Fail("volume create " + *path, v.status());
  std::cout << VolumeToJson(*v) << std::endl;
  return 0;
}

int VolumePassphrase(const std::string& id, Context& c) {
  if (isatty(STDOUT_FILENO)) {
    return Usage("volume passphrase writes to a pipe or file, not a terminal");
  }
  std::fflush(stdout);
  absl::Status s = c.service->WritePassphrase(id, STDOUT_FILENO);
  return s.ok() ? 0 : Fail("volume passphrase " + id, s);
}

int AttachXml(const Args& args, const std::string& id, Context& c) {
  AttachPlanOptions o;
  o.target_dev = args.Get("target").value_or("sdb");
  o.target_bus = args.Get("bus").value_or("scsi");
  o.ephemeral_secret = args.Has("ephemeral");
  absl::StatusOr<AttachPlan> plan = c.service->PlanAttach(id, o);
  if (!plan.ok()) return Fail("attach-xml " + id, plan.status());
  std::cout << "<!-- libvirt secret (the key container): define it, then set "
               "its value with virSecretSetValue; the value is never in XML -->\n"
            << plan->secret_xml << "\n<!-- disk -->\n"
            << plan->disk_xml << std::endl;
  return 0;
}

int AttachOrDetach(const Args& args, const std::string& verb,
                   const std::string& id, Context& c) {
  const std::optional<std::string> domain = args.Get("domain");
  if (verb == "detach") {
    if (domain) {
      absl::StatusOr<AttachmentRecord> a = c.store->GetAttachment(id);
      if (a.ok() && a->domain != *domain) {
        return Fail("detach " + id, absl::FailedPreconditionError(
                                        "attached to " + a->domain + ", not " + *domain));
      }
    }
    absl::StatusOr<VolumeRecord> v = c.service->DetachVolume(id);
    if (!v.ok()) return Fail("detach " + id, v.status());
    std::cout << VolumeToJson(*v) << std::endl;
    return 0;
  }
  if (!domain) return Usage("attach needs --domain");
  AttachTarget target;
  target.domain = *domain;
  target.config = args.Has("config");
  target.live = args.Has("live") || !target.config;
  AttachPlanOptions o;
  o.target_dev = args.Get("target").value_or("sdb");
  o.target_bus = args.Get("bus").value_or("scsi");
  o.ephemeral_secret = args.Has("ephemeral");
  absl::StatusOr<VolumeRecord> v = c.service->AttachVolume(id, target, o);
  if (!v.ok()) return Fail("attach " + id + " to " + *domain, v.status());
  std::cout << VolumeToJson(*v) << std::endl;
  return 0;
}

int RunVolume(const Args& args, const std::vector<std::string>& words, Context& c) {
  const std::string& verb = words.size() > 1 ? words[1] : "";
  const std::string id = words.size() > 2 ? words[2] : "";
  if (verb.empty()) {
    return Usage("volume needs a command: create, show, list, delete, extend, "
                 "verify, passphrase, manage, unmanage, rekey, snapshot, clone or "
                 "snapshot-delete");
  }
  if (verb == "create") return VolumeCreate(args, c);
  if (verb == "manage") return VolumeManage(args, *c.service);
  if (verb == "list") {
    absl::StatusOr<std::vector<VolumeRecord>> all = c.store->ListVolumes({});
    if (!all.ok()) return Fail("volume list", all.status());
    // Written once, straight to stdout: no tree of 10,000 records.
    return WriteVolumeListJson(*all, 2, std::cout) ? 0 : 1;
  }
  if (id.empty()) return Usage("volume " + verb + " needs a volume id");
  if (verb == "show") {
    absl::StatusOr<VolumeRecord> v = c.store->GetVolume(id);
    if (!v.ok()) return Fail("volume show " + id, v.status());
    std::cout << VolumeToJson(*v) << std::endl;
    return 0;
  }
  if (verb == "delete") {
    absl::Status s = c.service->DeleteVolume(id);
    return s.ok() ? 0 : Fail("volume delete " + id, s);
  }
  if (verb == "extend") {
    if (words.size() < 4) return Usage("volume extend needs an id and a size");
    absl::StatusOr<uint64_t> size = ParseSize(words[3]);
    if (!size.ok()) return Usage(std::string(size.status().message()));
    absl::StatusOr<VolumeRecord> v = c.service->ExtendVolume(id, *size);
    if (!v.ok()) return Fail("volume extend " + id, v.status());
    std::cout << VolumeToJson(*v) << std::endl;
    return 0;
  }
  if (verb == "verify") {
    absl::StatusOr<int> slot = c.service->VerifyVolumeKey(id);
    if (!slot.ok()) return Fail("volume verify " + id, slot.status());
    PrintJson({{"id", id}, {"keyslot", *slot}, {"unlocks", true}});
    return 0;
  }
  if (verb == "passphrase") return VolumePassphrase(id, c);
  if (verb == "unmanage") return VolumeUnmanage(id, *c.service);
  if (verb == "rekey") return VolumeRekey(id, *c.service);
  if (verb == "encrypt" || verb == "reencrypt") return VolumeConvert(args, verb, id, *c.service);
  if (verb == "snapshot") {
    if (words.size() < 4) return Usage("volume snapshot needs a volume id and a snapshot id");
    absl::StatusOr<SnapshotRecord> snap = c.service->CreateSnapshot(id, words[3]);
    if (!snap.ok()) return Fail("volume snapshot " + id, snap.status());
    std::cout << SnapshotToJson(*snap) << std::endl;
    return 0;
  }
  if (verb == "clone") {
    std::optional<VolumeLocation> where = LocationFrom(args, "rbd");
    if (words.size() < 4 || !where) {
      return Usage("volume clone needs a snapshot id, a new volume id, --pool and --image");
    }
    absl::StatusOr<VolumeRecord> v = c.service->CloneVolume(id, words[3], *where);
    if (!v.ok()) return Fail("volume clone " + id, v.status());
    std::cout << VolumeToJson(*v) << std::endl;
    return 0;
  }
  if (verb == "snapshot-delete") {
    absl::Status s = c.service->DeleteSnapshot(id);
    return s.ok() ? 0 : Fail("volume snapshot-delete " + id, s);
  }
  return Usage("unknown volume command '" + verb + "'");
}

// keys migrate --rekey, after the migration: each volume still opening with
// the fixed key's bytes (under its new id) gets a random key of its own.
int MigratedOffFixedKey(const Args& args, int migrated, VolumeStore& store,
                        KeyManager& dest, KeyManager& fixed) {
  absl::StatusOr<SecretBytes> fixed_key = fixed.GetKey(kFixedKeyId);
  if (!fixed_key.ok()) return Fail("read fixed key", fixed_key.status());
  Context c;
  c.mapped = NewMappedBackend();
  if (args.Has("ceph-conf")) {
    RbdBackendOptions ro;
    ro.ceph_conf = *args.Get("ceph-conf");
    ro.client_id = args.Get("ceph-id").value_or("admin");
    ro.keyring = args.Get("ceph-keyring").value_or("");
    absl::StatusOr<std::unique_ptr<RbdBackend>> rbd = RbdBackend::Connect(ro);
    if (!rbd.ok()) return Fail("connect to ceph", rbd.status());
    c.rbd = std::move(*rbd);
  }
  if (auto uri = args.Get("connect")) {
    absl::StatusOr<std::unique_ptr<Attacher>> attacher = Attacher::Connect(*uri);
    if (!attacher.ok()) return Fail("connect to libvirt", attacher.status());
    c.attacher = std::move(*attacher);
  }
  VolumeServiceOptions o;
  o.keys = &dest;
  o.store = &store;
  o.mapped = c.mapped.get();
  o.rbd = c.rbd.get();
  o.attacher = c.attacher.get();
  o.host = args.Get("host").value_or("");
  absl::StatusOr<std::unique_ptr<VolumeService>> service = VolumeService::Create(o);
  if (!service.ok()) return Fail("keys migrate --rekey", service.status());
  const int rekeyed = RekeyOffFixedKey(args, **service, store, dest, *fixed_key);
  return migrated != 0 ? migrated : rekeyed;
}

// keys migrate: from --fixed-key-file to --barbican (or --keys).
int RunKeys(const Args& args, const std::vector<std::string>& words) {
  if (words.size() != 2 || words[1] != "migrate") {
    return Usage("keys migrate --fixed-key-file F --barbican URL --project-id ID");
  }
  if (UsesBarbican(args) == (args.Has("keys") || args.Has("master-key"))) {
    return Usage("keys migrate needs one destination: --barbican URL, --auth-url URL "
                 "or --keys/--master-key");
  }
  absl::StatusOr<KeyMigrationOptions> options = MigrationOptionsFrom(args);
  if (!options.ok()) return Usage(std::string(options.status().message()));
  options->destination_name = UsesBarbican(args) ? "Barbican" : "the file key manager";
  if (absl::Status s = MakeStateDir(args, !UsesBarbican(args)); !s.ok()) return Fail("open", s);
  std::unique_ptr<KeyManager> fixed;
  if (args.Has("fixed-key-file")) {
    absl::StatusOr<std::unique_ptr<KeyManager>> f = OpenFixedKey(args);
    if (!f.ok()) return Fail("open fixed key", f.status());
    fixed = std::move(*f);
  }
  absl::StatusOr<std::unique_ptr<KeyManager>> dest =
      UsesBarbican(args) ? OpenBarbican(args) : OpenFileKeys(args);
  if (!dest.ok()) return Fail("open destination key manager", dest.status());
  absl::StatusOr<std::unique_ptr<VolumeStore>> store = OpenStore(args);
  if (!store.ok()) return Fail("open volume database", store.status());
  if (args.Has("rekey") && !fixed) return Usage("keys migrate --rekey needs --fixed-key-file");
  const bool dry_run = options->dry_run;
  const int migrated = KeysMigrate(args, *std::move(options), **store, fixed.get(), **dest);
  if (!args.Has("rekey") || dry_run) return migrated;
  return MigratedOffFixedKey(args, migrated, **store, **dest, *fixed);
}

int Main(int argc, char** argv) {
  Args args;
  std::string error;
  if (!args.Parse(argc, argv,
                  {"defer-format", "ephemeral", "help", "live", "config", "native-format",
                   "dry-run", "json", "unencrypted", "rekey", "keep-source"},
                  &error)) {
    return Usage(error);
  }
  const std::vector<std::string>& words = args.positional();
  if (words.empty() || words[0] == "help" || args.Has("help")) {
    std::fputs(kUsage, words.empty() && !args.Has("help") ? stderr : stdout);
    return words.empty() && !args.Has("help") ? kUsageError : 0;
  }
  const std::set<std::string> known = {
      "state-dir", "db", "keys", "master-key", "fixed-key-file", "host",
      "backend", "path", "size", "format", "cipher", "key-size", "id",
      "defer-format", "kdf", "user-id", "project-id", "target", "bus",
      "ephemeral", "grace", "help", "domain", "connect", "live", "config",
      "ceph-conf", "ceph-id", "ceph-keyring", "libvirt-ceph-secret", "pool",
      "image", "engine", "native-format", "barbican", "barbican-ca",
      "postgres", "dry-run", "json", "max-errors", "auth-url", "username",
      "password-file", "user-domain", "project-name", "project-domain",
      "app-credential-id", "app-credential-secret-file", "region",
      "key-id", "key-file", "passphrase-file", "unencrypted", "older-than",
      "created-before", "rekey", "to", "to-host", "migrate-uri", "keep-source",
      "sector-size", "attach-mode", "bandwidth"};
  if (auto unknown = args.Unknown(known); !unknown.empty()) {
    return Usage("unknown option " + unknown[0]);
  }
  if (words[0] != "keys" && (args.Has("fixed-key-file") + UsesBarbican(args) +
                             (args.Has("keys") || args.Has("master-key"))) > 1) {
    return Usage("choose one key manager: --keys/--master-key, --fixed-key-file or --barbican");
  }
  if (words[0] == "luks" && args.Has("backend")) {
    if (words.size() != 2 || words[1] != "inspect") return Usage("luks inspect --backend rbd ...");
    return LuksInspectRbd(args);
  }
  if (words[0] == "luks") {
    if (words.size() != 3 || words[1] != "inspect") return Usage("luks inspect PATH");
    absl::StatusOr<luks::LuksInfo> info = luks::Inspect(words[2]);
    if (!info.ok()) return Fail("luks inspect " + words[2], info.status());
    std::cout << LuksInfoToJson(*info) << std::endl;
    return 0;
  }
  if (words[0] == "ceph-secret") return CephSecretCommand(args, words);
  const bool rotating = words[0] == "keys" && words.size() == 2 && words[1] == "rotate";
  if (words[0] == "keys" && !rotating) return RunKeys(args, words);
  const bool libvirt = words[0] == "attach" || words[0] == "detach" || words[0] == "domain" ||
                       (words[0] == "reconcile" && args.Has("connect"));
  if (words[0] != "volume" && words[0] != "attach-xml" && words[0] != "reconcile" &&
      !libvirt && !rotating) {
    return Usage("unknown command '" + words[0] + "'");
  }
  if ((words[0] == "attach" || words[0] == "detach") && words.size() < 2) {
    return Usage(words[0] + " needs a volume id");
  }
  const bool deleting = words[0] == "volume" && words.size() > 1 && words[1] == "delete";
  const bool rekeying = words[0] == "volume" && words.size() > 1 && words[1] == "rekey";
  // An attached volume converts online (blockcopy): it needs --connect.
  const bool converting = words[0] == "volume" && words.size() > 1 &&
                          (words[1] == "encrypt" || words[1] == "reencrypt");
  const LibvirtUse use = libvirt || ((deleting || rekeying || rotating || converting) && args.Has("connect")) ? LibvirtUse::kRequired
                         : deleting                                   ? LibvirtUse::kIfReachable
                                                                      : LibvirtUse::kNo;
  absl::StatusOr<FleetRotationOptions> rotation = FleetRotationOptions();
  if (rotating) rotation = RotationOptionsFrom(args);
  if (!rotation.ok()) return Usage(std::string(rotation.status().message()));
  if (ReadsStoreOnly(words)) return RunStoreRead(args, words);
  absl::StatusOr<Context> context = OpenContext(args, use, ReadsOnly(words));
  if (!context.ok()) return Fail("open", context.status());
  if (rotating) return KeysRotate(args, *std::move(rotation), *context->service, *context->store);
  if (words[0] == "volume") return RunVolume(args, words, *context);
  if (words[0] == "domain") return DomainMigrate(args, words, *context->service);
  if (words[0] == "reconcile") {
    int64_t grace = 600;
    if (auto g = args.Get("grace");
        g && !ParseCount("grace", *g, kMaxGraceSeconds, &grace, &error)) {
      return Usage(error);
    }
    absl::StatusOr<int> acted = context->service->Reconcile(grace);
    if (!acted.ok()) return Fail("reconcile", acted.status());
    PrintJson({{"reconciled", *acted}});
    return 0;
  }
  if (words[0] == "attach" || words[0] == "detach") {
    return AttachOrDetach(args, words[0], words[1], *context);
  }
  if (words.size() < 2) return Usage("attach-xml needs a volume id");
  return AttachXml(args, words[1], *context);
}

}  // namespace
}  // namespace volcrypt_cli

int main(int argc, char** argv) {
  volcrypt_cli::GuardProcess();
  try {
    return volcrypt_cli::FinishOutput(volcrypt_cli::Main(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "volcrypt: internal error: %s\n", e.what());
    return 1;
  }
}
