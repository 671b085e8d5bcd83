// BarbicanKeyManager against a real Barbican server (Debian's barbican-api
// on loopback): round trips, each error status provoked for real, and
// interop with OpenStack's own client (python3-barbicanclient, castellan's
// transport) in both directions.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "tests/support/script_testbed.h"
#include "tests/support/test_support.h"
#include "volcrypt/barbican_key_manager.h"
#include "volcrypt/errors.h"
#include "volcrypt/mapped_backend.h"
#include "volcrypt/volume_service.h"
#include "volcrypt/volume_store.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::StatusIsWith;

::volcrypt::testing::ScriptTestbed* const kBarbican =
    static_cast<::volcrypt::testing::ScriptTestbed*>(
        ::testing::AddGlobalTestEnvironment(
            new ::volcrypt::testing::ScriptTestbed("barbican.sh")));

KeyRequest Request(const std::string& name, int bits = 256) {
  KeyRequest r;
  r.name = name;
  r.bits = bits;
  return r;
}

class BarbicanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VOLCRYPT_REQUIRE_TESTBED(kBarbican);
    keys_ = Open("project-a");
  }
  static std::unique_ptr<KeyManager> Open(const std::string& project) {
    BarbicanOptions o;
    o.endpoint = kBarbican->address();
    o.project_id = project;
    o.timeout_seconds = 5;
    return std::move(NewBarbicanKeyManager(o, NullLogger()).value());
  }
  std::unique_ptr<KeyManager> keys_;
};

TEST_F(BarbicanTest, CreateGetDeleteRoundTrip) {
  absl::StatusOr<std::string> id = ::volcrypt::testing::KeyIdOf(keys_->CreateKey(Request("volcrypt-volume-b1")));
  ASSERT_TRUE(id.ok()) << id.status();
  VOLCRYPT_EXPECT_OK(ValidateKeyId(*id));
  absl::StatusOr<SecretBytes> key = keys_->GetKey(*id);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->size(), 32u);
  VOLCRYPT_EXPECT_OK(keys_->DeleteKey(*id));
  EXPECT_THAT(keys_->GetKey(*id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(keys_->DeleteKey(*id), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(BarbicanTest, StoreKeepsExactBytesAnd512BitKeysWork) {
  SecretBytes key = SecretBytes::Random(64).value();
  absl::StatusOr<std::string> id = keys_->StoreKey(key, Request("k512", 512));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(keys_->GetKey(*id)->Equals(key));
}

TEST_F(BarbicanTest, AnotherProjectsSecretIsPermissionDenied) {
  std::string id = keys_->CreateKey(Request("private")).value().id;
  EXPECT_THAT(Open("project-b")->GetKey(id),
              StatusIsWith(absl::StatusCode::kPermissionDenied, "403"));
}

TEST_F(BarbicanTest, OversizedPayloadIsInvalidArgument) {
  // 4095 bytes (32760 bits, within Barbican's bit_length maximum) are 5460
  // base64 characters, over the test bed's 4096-byte secret limit.
  SecretBytes big = SecretBytes::Random(4095).value();
  EXPECT_THAT(keys_->StoreKey(big, Request("big", 32760)),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "HTTP 413"));
}

TEST_F(BarbicanTest, ARequestBarbicanRejectsIsInvalidArgumentWithItsReason) {
  // Barbican's schema allows names of at most 255 characters.
  absl::StatusOr<std::string> id =
      ::volcrypt::testing::KeyIdOf(keys_->CreateKey(Request(std::string(300, 'n'))));
  EXPECT_THAT(id, StatusIsWith(absl::StatusCode::kInvalidArgument, "HTTP 400"));
  EXPECT_THAT(id, StatusIsWith(absl::StatusCode::kInvalidArgument, "is too long"));
  EXPECT_EQ(ErrnoOf(id.status()), EINVAL);
}

// A fault the real Barbican cannot produce on cue: a 400 whose description
// quotes the whole request body, payload included (as jsonschema quotes an
// object that fails as a whole). One connection on loopback, then done.
class EchoingErrorServer {
 public:
  EchoingErrorServer() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof a;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), n) != 0 || listen(fd_, 1) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &n) != 0) {
      ADD_FAILURE() << "cannot listen on loopback";
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~EchoingErrorServer() {
    thread_.join();
    close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  void Serve() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 10000) != 1) return;  // the client never came
    const int c = accept(fd_, nullptr, nullptr);
    std::string request;
    char buf[4096];
    size_t body_at = std::string::npos, length = 0;
    while (body_at == std::string::npos || request.size() < body_at + length) {
      const ssize_t got = read(c, buf, sizeof buf);
      if (got <= 0) break;
      request.append(buf, static_cast<size_t>(got));
      if (body_at == std::string::npos && (body_at = request.find("\r\n\r\n")) != std::string::npos) {
        body_at += 4;
        const std::string head = absl::AsciiStrToLower(request.substr(0, body_at));
        const size_t cl = head.find("content-length:");
        length = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 15));
      }
    }
    const std::string body = body_at == std::string::npos ? "" : request.substr(body_at);
    const std::string answer = nlohmann::json(
        {{"code", 400}, {"title", "Bad Request"},
         {"description", body + " is not valid under any of the given schemas"}}).dump();
    const std::string response = absl::StrCat(
        "HTTP/1.0 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ",
        answer.size(), "\r\n\r\n", answer);
    (void)!write(c, response.data(), response.size());
    close(c);
  }

  int fd_;
  int port_ = 0;
  std::thread thread_;
};

TEST(BarbicanErrorTextTest, AnErrorQuotingTheRequestNeverCarriesTheKey) {
  EchoingErrorServer server;
  BarbicanOptions o;
  o.endpoint = server.url();
  o.project_id = "p";
  o.max_attempts = 1;
  o.timeout_seconds = 5;
  auto keys = std::move(NewBarbicanKeyManager(o, NullLogger()).value());
  SecretBytes key = SecretBytes::Random(32).value();
  absl::StatusOr<std::string> id = keys->StoreKey(key, Request("echoed"));
  EXPECT_THAT(id, StatusIsWith(absl::StatusCode::kInvalidArgument, "HTTP 400"));
  // The rest of the quoted request is there, the payload is not.
  EXPECT_THAT(id, StatusIsWith(absl::StatusCode::kInvalidArgument, "\"name\":\"echoed\""));
  EXPECT_THAT(id, StatusIsWith(absl::StatusCode::kInvalidArgument, "[redacted]"));
  const std::string text = id.status().ToString();
  const absl::string_view raw(key.char_data(), key.size());
  EXPECT_EQ(text.find(absl::Base64Escape(raw)), std::string::npos);
  EXPECT_EQ(text.find(absl::BytesToHexString(raw)), std::string::npos);
}

TEST_F(BarbicanTest, MalformedIdIsRefusedBeforeAnyRequest) {
  EXPECT_THAT(keys_->GetKey("not-a-uuid"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(BarbicanTest, ConsumersAndFindByName) {
  std::string a = keys_->CreateKey(Request("volcrypt-volume-x")).value().id;
  std::string b = keys_->CreateKey(Request("volcrypt-volume-x")).value().id;
  keys_->CreateKey(Request("volcrypt-volume-y")).value();
  KeyConsumer c;
  c.resource_id = "x";
  VOLCRYPT_EXPECT_OK(keys_->AddConsumer(a, c));
  VOLCRYPT_EXPECT_OK(keys_->RemoveConsumer(a, c));
  absl::StatusOr<std::vector<std::string>> found = keys_->FindKeysByName("volcrypt-volume-x");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(std::set<std::string>(found->begin(), found->end()), (std::set<std::string>{a, b}));
}

TEST_F(BarbicanTest, UnreachableServerIsUnavailableAfterBoundedRetries) {
  BarbicanOptions o;
  o.endpoint = "http://127.0.0.1:9";
  o.project_id = "p";
  o.timeout_seconds = 2;
  auto keys = std::move(NewBarbicanKeyManager(o, NullLogger()).value());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(keys->CreateKey(Request("x")), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

std::unique_ptr<KeyManager> Impatient() {
  BarbicanOptions o;
  o.endpoint = kBarbican->address();
  o.project_id = "project-a";
  o.timeout_seconds = 2;
  o.max_attempts = 2;
  return std::move(NewBarbicanKeyManager(o, NullLogger()).value());
}

TEST_F(BarbicanTest, ServerErrorIsUnavailableAfterBoundedRetries) {
  // Barbican's database vanishes under it: every request is answered 500.
  const std::string db = kBarbican->dir() + "/barbican.sqlite";
  ASSERT_EQ(rename(db.c_str(), (db + ".away").c_str()), 0);
  absl::StatusOr<std::string> id = ::volcrypt::testing::KeyIdOf(Impatient()->CreateKey(Request("during-500")));
  unlink(db.c_str());
  ASSERT_EQ(rename((db + ".away").c_str(), db.c_str()), 0);
  EXPECT_THAT(id, StatusIsWith(absl::StatusCode::kUnavailable, "HTTP 500"));
  EXPECT_TRUE(keys_->CreateKey(Request("after-500")).ok());
}

// The server's PID, to freeze it (SIGSTOP): connections are then accepted
// and nothing is answered; requests queue and are acted on after SIGCONT.
pid_t BarbicanPid() {
  const std::string pid = ::volcrypt::testing::ReadFileOrDie(kBarbican->dir() + "/barbican.pid");
  return static_cast<pid_t>(std::atoi(pid.c_str()));
}

TEST_F(BarbicanTest, AServerThatDoesNotAnswerTimesOutAsUnavailable) {
  const pid_t server = BarbicanPid();
  ASSERT_GT(server, 0);
  ASSERT_EQ(kill(server, SIGSTOP), 0);
  absl::StatusOr<std::string> id = ::volcrypt::testing::KeyIdOf(Impatient()->CreateKey(Request("frozen")));
  kill(server, SIGCONT);
  EXPECT_THAT(id, StatusIsWith(absl::StatusCode::kUnavailable, "no answer within 2 s"));
  EXPECT_EQ(ErrnoOf(id.status()), ETIMEDOUT);
  EXPECT_TRUE(keys_->CreateKey(Request("after-freeze")).ok());
}

TEST_F(BarbicanTest, AStoreRetriedAfterATimeoutLeavesOneSecret) {
  // Barbican frozen past the first attempt's timeout, thawed during the
  // retry: it then stores the first attempt's secret (its answer goes
  // nowhere) and answers the retry. Exactly one secret must remain: the
  // retry first looks for what the lost attempt stored.
  const pid_t server = BarbicanPid();
  ASSERT_GT(server, 0);
  BarbicanOptions o;
  o.endpoint = kBarbican->address();
  o.project_id = "project-a";
  o.timeout_seconds = 1;
  o.max_attempts = 4;
  auto keys = std::move(NewBarbicanKeyManager(o, NullLogger()).value());
  static int run = 0;
  const std::string name = absl::StrCat("lost-answer-", getpid(), "-", run++);
  ASSERT_EQ(kill(server, SIGSTOP), 0);
  std::thread thaw([server] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    kill(server, SIGCONT);
  });
  absl::StatusOr<std::string> id = ::volcrypt::testing::KeyIdOf(keys->CreateKey(Request(name)));
  thaw.join();
  ASSERT_TRUE(id.ok()) << id.status();
  absl::StatusOr<std::vector<std::string>> named = keys_->FindKeysByName(name);
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(*named, std::vector<std::string>{*id});
}

TEST_F(BarbicanTest, ACreateWhileBarbicanIsFrozenLeavesNoKeyOnceReconciled) {
  // Every attempt to store the volume's key times out, but Barbican acts on
  // the stalled one once thawed. The failed create cannot tell whether a key
  // exists (Barbican cannot be asked), so it leaves the record 'creating';
  // Reconcile then finds the key by its name and removes it and the record.
  const pid_t server = BarbicanPid();
  ASSERT_GT(server, 0);
  ::volcrypt::testing::TempDir tmp;
  std::unique_ptr<VolumeStore> store =
      std::move(OpenSqliteVolumeStore(tmp.File("volumes.db")).value());
  std::unique_ptr<BlockBackend> mapped = NewMappedBackend();
  BarbicanOptions bo;
  bo.endpoint = kBarbican->address();
  bo.project_id = "project-a";
  bo.timeout_seconds = 1;
  bo.max_attempts = 2;
  std::unique_ptr<KeyManager> impatient =
      std::move(NewBarbicanKeyManager(bo, NullLogger()).value());
  auto service_with = [&](KeyManager* keys) {
    VolumeServiceOptions o;
    o.keys = keys;
    o.store = store.get();
    o.mapped = mapped.get();
    o.host = "host-a";
    o.logger = NullLogger();
    return std::move(VolumeService::Create(o).value());
  };
  static int run = 0;
  CreateVolumeRequest r;
  r.id = absl::StrCat("frozen-", getpid(), "-", run++);
  r.location = VolumeLocation::Path(tmp.File(r.id));
  r.size_bytes = 16 << 20;

  ASSERT_EQ(kill(server, SIGSTOP), 0);
  absl::StatusOr<VolumeRecord> v = service_with(impatient.get())->CreateVolume(r);
  kill(server, SIGCONT);
  EXPECT_THAT(v, StatusIs(absl::StatusCode::kUnavailable));
  absl::StatusOr<VolumeRecord> left = store->GetVolume(r.id);
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_EQ(left->status, VolumeStatus::kCreating);
  // Thawed, Barbican has stored the stalled attempt's key.
  EXPECT_EQ(keys_->FindKeysByName(KeyNameForVolume(r.id))->size(), 1u);

  EXPECT_EQ(*service_with(keys_.get())->Reconcile(/*grace_seconds=*/0), 1);
  EXPECT_TRUE(keys_->FindKeysByName(KeyNameForVolume(r.id))->empty());
  EXPECT_THAT(store->GetVolume(r.id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_NE(access(tmp.File(r.id).c_str(), F_OK), 0);
}

TEST_F(BarbicanTest, RekeyLeavesTheNewSecretAloneOpeningTheVolume) {
  ::volcrypt::testing::TempDir tmp;
  std::unique_ptr<VolumeStore> store =
      std::move(OpenSqliteVolumeStore(tmp.File("volumes.db")).value());
  std::unique_ptr<BlockBackend> mapped = NewMappedBackend();
  VolumeServiceOptions o;
  o.keys = keys_.get();
  o.store = store.get();
  o.mapped = mapped.get();
  o.host = "host-a";
  o.logger = NullLogger();
  auto service = std::move(VolumeService::Create(o).value());
  CreateVolumeRequest r;
  r.id = absl::StrCat("rekey-", getpid());
  r.location = VolumeLocation::Path(tmp.File(r.id));
  r.size_bytes = 8 << 20;
  absl::StatusOr<VolumeRecord> v = service->CreateVolume(r);
  ASSERT_TRUE(v.ok()) << v.status();
  const SecretBytes old_pass = HexPassphrase(keys_->GetKey(v->encryption_key_id).value());
  absl::StatusOr<VolumeRecord> after = service->RotateKey(r.id);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_NE(after->encryption_key_id, v->encryption_key_id);
  EXPECT_THAT(keys_->GetKey(v->encryption_key_id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(*keys_->FindKeysByName(KeyNameForVolume(r.id)),
            std::vector<std::string>{after->encryption_key_id}) << "one secret per volume";
  const SecretBytes new_pass = HexPassphrase(keys_->GetKey(after->encryption_key_id).value());
  auto opens = [&](const SecretBytes& pass) {
    return RunCommand({"cryptsetup", "open", "--test-passphrase", "--key-file", "/dev/fd/3",
                       tmp.File(r.id)}, &pass).exit_code;
  };
  EXPECT_EQ(opens(new_pass), 0);
  EXPECT_EQ(opens(old_pass), 2) << "the old passphrase still opens";
  ASSERT_TRUE(service->DeleteVolume(r.id).ok());
  EXPECT_TRUE(keys_->FindKeysByName(KeyNameForVolume(r.id))->empty());
}

// The same server over HTTPS, its certificate from a throwaway CA.
::volcrypt::testing::ScriptTestbed* const kBarbicanTls =
    static_cast<::volcrypt::testing::ScriptTestbed*>(
        ::testing::AddGlobalTestEnvironment(new ::volcrypt::testing::ScriptTestbed(
            "barbican.sh", {"BARBICAN_TLS=1"})));

TEST(BarbicanTlsTest, VerifiesTheServerAndTakesAnExtraCa) {
  VOLCRYPT_REQUIRE_TESTBED(kBarbicanTls);
  BarbicanOptions o;
  o.endpoint = kBarbicanTls->address();
  ASSERT_EQ(o.endpoint.rfind("https://", 0), 0u) << o.endpoint;
  o.project_id = "project-tls";
  o.timeout_seconds = 5;
  o.max_attempts = 1;
  // Without the CA the certificate is not trusted: no key goes out.
  auto untrusting = std::move(NewBarbicanKeyManager(o, NullLogger()).value());
  EXPECT_THAT(untrusting->CreateKey(Request("tls")),
              StatusIsWith(absl::StatusCode::kUnavailable, "certificate"));
  o.ca_path = kBarbicanTls->dir() + "/tls/ca.pem";
  auto keys = std::move(NewBarbicanKeyManager(o, NullLogger()).value());
  absl::StatusOr<std::string> id = ::volcrypt::testing::KeyIdOf(keys->CreateKey(Request("tls")));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(keys->GetKey(*id).ok());
}

TEST_F(BarbicanTest, BadEndpointOrProjectIsInvalid) {
  BarbicanOptions o;
  o.endpoint = "ftp://x";
  o.project_id = "p";
  EXPECT_THAT(NewBarbicanKeyManager(o, nullptr), StatusIs(absl::StatusCode::kInvalidArgument));
  o.endpoint = "http://x";
  o.project_id = "";
  EXPECT_THAT(NewBarbicanKeyManager(o, nullptr), StatusIs(absl::StatusCode::kInvalidArgument));
}

// OpenStack's client reads what we stored, and we read what it stored; the
// key bytes travel on fd 3, never argv.
constexpr char kClient[] = R"py(
import sys
from barbicanclient import client
c = client.Client(endpoint=sys.argv[1], project_id="project-a")
if sys.argv[2] == "read":
    payload = c.secrets.get(sys.argv[1] + "/v1/secrets/" + sys.argv[3]).payload
    sys.exit(0 if payload == open("/dev/fd/3", "rb").read() else 1)
# As castellan stores a key: raw bytes, the client picks the encoding.
secret = c.secrets.create(name="from-client", payload=open("/dev/fd/3", "rb").read(),
                          algorithm="AES", bit_length=256, secret_type="symmetric")
print(secret.store().rsplit("/", 1)[1])
)py";

TEST_F(BarbicanTest, OpenStacksClientReadsOursAndWeReadItsSecrets) {
  if (RunCommand({"/usr/bin/python3", "-c", "import barbicanclient"}).exit_code != 0) {
    GTEST_SKIP() << "python3-barbicanclient is not installed";
  }
  SecretBytes key = SecretBytes::Random(32).value();
  std::string ours = keys_->StoreKey(key, Request("ours")).value();
  auto read = RunCommand({"/usr/bin/python3", "-c", kClient, kBarbican->address(), "read", ours}, &key);
  EXPECT_EQ(read.exit_code, 0) << read.err;

  SecretBytes theirs_key = SecretBytes::Random(32).value();
  auto made = RunCommand({"/usr/bin/python3", "-c", kClient, kBarbican->address(), "create"}, &theirs_key);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::string theirs(absl::StripAsciiWhitespace(made.out));
  absl::StatusOr<SecretBytes> got = keys_->GetKey(theirs);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->Equals(theirs_key));
}

}  // namespace
}  // namespace volcrypt
