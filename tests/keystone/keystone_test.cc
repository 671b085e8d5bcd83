// Keystone token authentication against the real services: Keystone and a
// Barbican that validates its tokens (tests/scripts/openstack.sh), users and
// an application credential made through Keystone's API. Tokens last 20 s
// here, so renewal before expiry is exercised for real. Also OpenStack's own
// client, python3-castellan's BarbicanKeyManager with a Keystone password,
// reads what we store and we read what it stores.
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "tests/migration/migration_world.h"
#include "tests/support/recording_logger.h"
#include "tests/support/script_testbed.h"
#include "tests/support/test_support.h"
#include "volcrypt/barbican_key_manager.h"
#include "volcrypt/key_migration.h"
#include "volcrypt/keystone_auth.h"

namespace volcrypt {
namespace testing {
namespace {

constexpr int kTokenSeconds = 20;

ScriptTestbed* const kOpenStack = [] {
  setenv("KEYSTONE_TOKEN_SECONDS", std::to_string(kTokenSeconds).c_str(), 1);
  return static_cast<ScriptTestbed*>(
      ::testing::AddGlobalTestEnvironment(new ScriptTestbed("openstack.sh")));
}();

nlohmann::json Credentials() {
  std::ifstream in(kOpenStack->dir() + "/keystone/credentials.json");
  std::stringstream text;
  text << in.rdbuf();
  return nlohmann::json::parse(text.str());
}

SecretBytes Secret(const std::string& s) { return SecretBytes::CopyOf(s.data(), s.size()); }

KeystoneOptions PasswordOf(const std::string& user) {
  KeystoneOptions k;
  k.auth_url = kOpenStack->address();
  k.username = user;
  k.password = Secret(Credentials()[user]["password"].get<std::string>());
  k.project_name = "volumes";
  k.timeout_seconds = 10;
  return k;
}

std::shared_ptr<KeystoneSession> Session(KeystoneOptions k) {
  return std::move(KeystoneSession::Create(std::move(k)).value());
}

absl::StatusOr<std::unique_ptr<KeyManager>> BarbicanWith(
    std::shared_ptr<KeystoneSession> session) {
  BarbicanOptions o;
  o.keystone = std::move(session);  // the endpoint from the catalog
  o.timeout_seconds = 10;
  return NewBarbicanKeyManager(o, NullLogger());
}

class KeystoneTest : public ::testing::Test {
 protected:
  void SetUp() override { VOLCRYPT_REQUIRE_TESTBED(kOpenStack); }
};

TEST_F(KeystoneTest, PasswordTokenIsCachedAndTheEndpointComesFromTheCatalog) {
  std::shared_ptr<KeystoneSession> session = Session(PasswordOf("volcrypt"));
  absl::StatusOr<std::unique_ptr<KeyManager>> keys = BarbicanWith(session);
  ASSERT_TRUE(keys.ok()) << keys.status();
  KeyRequest r;
  r.name = "keystone-round-trip";
  absl::StatusOr<std::string> id = ::volcrypt::testing::KeyIdOf((*keys)->CreateKey(r));
  ASSERT_TRUE(id.ok()) << id.status();
  absl::StatusOr<SecretBytes> key = (*keys)->GetKey(*id);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->size(), 32u);
  VOLCRYPT_EXPECT_OK((*keys)->DeleteKey(*id));
  EXPECT_EQ(session->tokens_issued(), 1);
  absl::StatusOr<KeystoneToken> token = session->Token();
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->project_id, Credentials()["volumes_project_id"]);
}

TEST_F(KeystoneTest, ApplicationCredentialWorks) {
  KeystoneOptions k;
  k.auth_url = kOpenStack->address();
  k.application_credential_id = Credentials()["application_credential"]["id"];
  k.application_credential_secret =
      Secret(Credentials()["application_credential"]["secret"].get<std::string>());
  absl::StatusOr<std::unique_ptr<KeyManager>> keys = BarbicanWith(Session(std::move(k)));
  ASSERT_TRUE(keys.ok()) << keys.status();
  KeyRequest r;
  r.name = "app-credential";
  absl::StatusOr<std::string> id = ::volcrypt::testing::KeyIdOf((*keys)->CreateKey(r));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE((*keys)->GetKey(*id).ok());
}

TEST_F(KeystoneTest, TokenIsRenewedBeforeItExpires) {
  std::shared_ptr<KeystoneSession> session = Session(PasswordOf("volcrypt"));
  std::unique_ptr<KeyManager> keys = std::move(BarbicanWith(session).value());
  KeyRequest r;
  r.name = "renewal";
  const std::string id = keys->CreateKey(r).value().id;
  const KeystoneToken first = session->Token().value();
  // Renewal is due at half the lifetime when that is under 5 minutes.
  std::this_thread::sleep_for(std::chrono::seconds(kTokenSeconds / 2 + 1));
  absl::StatusOr<SecretBytes> key = keys->GetKey(id);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(session->tokens_issued(), 2);
  EXPECT_FALSE(session->Token()->value.Equals(first.value));
}

TEST_F(KeystoneTest, ARevokedTokenIsReplacedOnce) {
  std::shared_ptr<KeystoneSession> session = Session(PasswordOf("volcrypt"));
  std::unique_ptr<KeyManager> keys = std::move(BarbicanWith(session).value());
  KeyRequest r;
  r.name = "revoked";
  const std::string id = keys->CreateKey(r).value().id;
  // Revoke it as Keystone would: the admin deletes the token.
  const KeystoneToken token = session->Token().value();
  KeystoneOptions admin;
  admin.auth_url = kOpenStack->address();
  admin.username = "admin";
  std::ifstream pw(kOpenStack->dir() + "/keystone/admin-password");
  std::string admin_password;
  pw >> admin_password;
  admin.password = Secret(admin_password);
  admin.project_name = "admin";
  const KeystoneToken admin_token = Session(std::move(admin))->Token().value();
  // Tokens travel to curl through a pipe, never on its command line.
  const SecretBytes headers = Secret(
      "X-Auth-Token: " + std::string(admin_token.value.char_data(), admin_token.value.size()) +
      "\nX-Subject-Token: " + std::string(token.value.char_data(), token.value.size()) + "\n");
  CommandResult revoke = RunCommand({"curl", "-sf", "-X", "DELETE", "-H", "@/dev/fd/3",
                                     kOpenStack->address() + "/auth/tokens"},
                                    &headers);
  ASSERT_EQ(revoke.exit_code, 0) << revoke.err;
  // Barbican caches a validated token for 2 s (tests/scripts/barbican.sh).
  std::this_thread::sleep_for(std::chrono::seconds(3));
  absl::StatusOr<SecretBytes> key = keys->GetKey(id);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(session->tokens_issued(), 2);
}

TEST_F(KeystoneTest, WrongPasswordIsPermissionDeniedWithoutThePassword) {
  KeystoneOptions k = PasswordOf("volcrypt");
  k.password = Secret("not-the-password-4711");
  absl::StatusOr<std::unique_ptr<KeyManager>> keys = BarbicanWith(Session(std::move(k)));
  EXPECT_THAT(keys, StatusIsWith(absl::StatusCode::kPermissionDenied, "401"));
  EXPECT_EQ(keys.status().ToString().find("4711"), std::string::npos);
}

// Failed logins as Keystone itself logged them.
int FailedLogins() {
  std::ifstream in(kOpenStack->dir() + "/keystone/keystone.log");
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    n += line.find("Authorization failed.") != std::string::npos;
  }
  return n;
}

TEST_F(KeystoneTest, ARefusedLoginIsNotRetriedLikeAnOutage) {
  // Keystone counts failed logins and may lock the account after a few
  // (security_compliance.lockout_failure_attempts): a refusal is final.
  BarbicanOptions o;
  o.endpoint = Session(PasswordOf("volcrypt"))->Endpoint("key-manager").value();
  KeystoneOptions k = PasswordOf("volcrypt");
  k.password = Secret("not-the-password-4711");
  o.keystone = Session(std::move(k));
  o.max_attempts = 3;
  std::unique_ptr<KeyManager> keys = std::move(NewBarbicanKeyManager(o, NullLogger()).value());
  const int before = FailedLogins();
  EXPECT_THAT(keys->GetKey("8f0e5b52-8c2a-4d0e-9a57-5a1f0b7c3d21"),
              StatusIsWith(absl::StatusCode::kPermissionDenied, "401"));
  EXPECT_EQ(FailedLogins() - before, 1);
}

TEST_F(KeystoneTest, IncompleteOptionsAreRefusedBeforeAnyRequest) {
  KeystoneOptions k;
  k.auth_url = kOpenStack->address();
  EXPECT_THAT(KeystoneSession::Create(std::move(k)),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "either a username"));
  KeystoneOptions no_project = PasswordOf("volcrypt");
  no_project.project_name = "";
  EXPECT_THAT(KeystoneSession::Create(std::move(no_project)),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "project"));
  KeystoneOptions bad_url = PasswordOf("volcrypt");
  bad_url.auth_url = "ftp://x";
  EXPECT_THAT(KeystoneSession::Create(std::move(bad_url)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(KeystoneTest, MigrationWithoutTheCreatorRoleSaysSo) {
  std::unique_ptr<KeyManager> observer =
      std::move(BarbicanWith(Session(PasswordOf("observer"))).value());
  TempDir tmp;
  std::unique_ptr<VolumeStore> store =
      std::move(OpenSqliteVolumeStore(tmp.File("volumes.db")).value());
  MigrationWorld world(*store, tmp.path());
  world.AddFixedKeyVolume("v1", "h1", 0, false);
  KeyMigrationOptions o;
  o.host = "h1";
  absl::StatusOr<KeyMigrationReport> r =
      MigrateFixedKeyItems(*store, world.FixedKeys().get(), *observer, o, NullLogger());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->items.size(), 1u);
  EXPECT_EQ(r->items[0].outcome, KeyMigrationOutcome::kFailed);
  EXPECT_NE(r->items[0].error.find("403"), std::string::npos) << r->items[0].error;
  EXPECT_NE(r->items[0].error.find("'creator' role"), std::string::npos) << r->items[0].error;
  EXPECT_EQ(world.FixedKeyItems("h1"), 1);
}

// The operator's command with Keystone: the password from a 0600 file, the
// Barbican endpoint from the catalog.
TEST_F(KeystoneTest, CliMigratesWithAKeystonePasswordFile) {
  TempDir tmp;
  std::unique_ptr<VolumeStore> store =
      std::move(OpenSqliteVolumeStore(tmp.File("volumes.db")).value());
  MigrationWorld world(*store, tmp.path());
  world.AddFixedKeyVolume("v1", "h1", 1, true);
  world.WriteFixedKeyFile(tmp.File("fixed.hex"));
  const std::string password_file = tmp.File("password");
  {
    std::ofstream out(password_file);
    out << Credentials()["volcrypt"]["password"].get<std::string>() << "\n";
  }
  const std::vector<std::string> argv = {
      std::getenv("VOLCRYPT_CLI"), "--db", tmp.File("volumes.db"), "keys", "migrate",
      "--fixed-key-file", tmp.File("fixed.hex"), "--auth-url", kOpenStack->address(),
      "--username", "volcrypt", "--password-file", password_file, "--project-name",
      "volumes", "--host", "h1", "--json"};
  CommandResult open_to_all = RunCommand(argv);
  EXPECT_EQ(open_to_all.exit_code, 1);
  EXPECT_NE(open_to_all.err.find(password_file), std::string::npos) << open_to_all.err;
  ASSERT_EQ(chmod(password_file.c_str(), 0600), 0);
  CommandResult run = RunCommand(argv);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("\"migrated\":2"), std::string::npos) << run.out;
  std::unique_ptr<KeyManager> keys =
      std::move(BarbicanWith(Session(PasswordOf("volcrypt"))).value());
  world.Check("h1", *keys);
}

// castellan's BarbicanKeyManager (what cinder and nova run), authenticated
// by Keystone password: "get ID" prints the key's hex; "store" stores the
// hex key and prints the new id. The password (first line) and the key
// (second line) come on fd 3, never argv.
constexpr char kCastellan[] = R"py(
import sys
from castellan.common.credentials import keystone_password
from castellan.common.objects import symmetric_key
from castellan.key_manager import barbican_key_manager
from oslo_config import cfg

auth_url, user, verb = sys.argv[1:4]
secrets = open("/dev/fd/3").read().split("\n")
password = secrets[0]
conf = cfg.ConfigOpts()
km = barbican_key_manager.BarbicanKeyManager(conf)
conf.set_override("auth_endpoint", auth_url, group="barbican")
ctx = keystone_password.KeystonePassword(
    auth_url=auth_url, password=password, username=user, user_domain_name="Default",
    project_name="volumes", project_domain_name="Default")
if verb == "get":
    print(km.get(ctx, sys.argv[4]).get_encoded().hex())
else:
    key = symmetric_key.SymmetricKey("AES", 256, bytes.fromhex(secrets[1].strip()))
    print(km.store(ctx, key))
)py";

TEST_F(KeystoneTest, CastellanReadsOursAndWeReadCastellans) {
  std::shared_ptr<KeystoneSession> session = Session(PasswordOf("volcrypt"));
  std::unique_ptr<KeyManager> keys = std::move(BarbicanWith(session).value());
  const std::string password = Credentials()["volcrypt"]["password"];
  const SecretBytes password_line = Secret(password + "\n");
  KeyRequest r;
  r.name = "for-castellan";
  const std::string ours = keys->CreateKey(r).value().id;
  const SecretBytes our_key = keys->GetKey(ours).value();
  CommandResult got = RunCommand({"/usr/bin/python3", "-c", kCastellan, kOpenStack->address(),
                                  "volcrypt", "get", ours},
                                 &password_line);
  ASSERT_EQ(got.exit_code, 0) << got.err;
  const SecretBytes hex = HexPassphrase(our_key);
  EXPECT_EQ(got.out, std::string(hex.char_data(), hex.size()) + "\n");

  const SecretBytes their_key = SecretBytes::Random(32).value();
  const SecretBytes their_hex = HexPassphrase(their_key);
  const SecretBytes both = Secret(password + "\n" +
                                  std::string(their_hex.char_data(), their_hex.size()));
  CommandResult stored = RunCommand(
      {"/usr/bin/python3", "-c", kCastellan, kOpenStack->address(), "volcrypt", "store"},
      &both);
  ASSERT_EQ(stored.exit_code, 0) << stored.err;
  const std::string theirs(absl::StripAsciiWhitespace(stored.out));
  absl::StatusOr<SecretBytes> read = keys->GetKey(theirs);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(read->Equals(their_key));
}

}  // namespace
}  // namespace testing
}  // namespace volcrypt
