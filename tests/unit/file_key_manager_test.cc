#include "volcrypt/file_key_manager.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

// A kill at the rename of a key file's temp file, on cue: when set, the
// process _exit()s instead of renaming (the executable's renameat is the one
// the library calls).
static bool die_at_rename = false;

extern "C" int renameat(int olddir, const char* oldpath, int newdir,
                        const char* newpath) {
  using RenameAt = int (*)(int, const char*, int, const char*);
  static auto real = reinterpret_cast<RenameAt>(dlsym(RTLD_NEXT, "renameat"));
  if (die_at_rename) _exit(42);
  return real(olddir, oldpath, newdir, newpath);
}

namespace volcrypt {
namespace {

using ::volcrypt::testing::ReadFileOrDie;
using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::StatusIsWith;
using ::volcrypt::testing::TempDir;

KeyRequest Request(const std::string& name, int bits = 256) {
  KeyRequest r;
  r.bits = bits;
  r.name = name;
  return r;
}

class FileKeyManagerTest : public ::testing::Test {
 protected:
  std::unique_ptr<KeyManager> Open(const SecretBytes& master) {
    auto keys = NewFileKeyManager(dir(), master.Clone(), nullptr);
    EXPECT_TRUE(keys.ok()) << keys.status();
    return keys.ok() ? std::move(*keys) : nullptr;
  }
  std::string dir() const { return tmp_.File("keys"); }
  void WriteFile(const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::binary) << data;
  }
  TempDir tmp_;
  SecretBytes master_ = SecretBytes::Random(32).value();
};

TEST_F(FileKeyManagerTest, CreateGetDeleteRoundTrip) {
  auto keys = Open(master_);
  absl::StatusOr<std::string> id = ::volcrypt::testing::KeyIdOf(keys->CreateKey(Request("volcrypt-volume-v1")));
  ASSERT_TRUE(id.ok()) << id.status();
  VOLCRYPT_EXPECT_OK(ValidateKeyId(*id));
  absl::StatusOr<SecretBytes> key = keys->GetKey(*id);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->size(), 32u);
  VOLCRYPT_EXPECT_OK(keys->DeleteKey(*id));
  EXPECT_THAT(keys->GetKey(*id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(keys->DeleteKey(*id), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(FileKeyManagerTest, StoreKeepsExactBytesAndChecksLength) {
  auto keys = Open(master_);
  SecretBytes key = SecretBytes::Random(64).value();
  absl::StatusOr<std::string> id = keys->StoreKey(key, Request("k", 512));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(keys->GetKey(*id)->Equals(key));
  EXPECT_THAT(keys->StoreKey(key, Request("k", 256)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(FileKeyManagerTest, DirectoryAndFilesArePrivate) {
  auto keys = Open(master_);
  std::string id = keys->CreateKey(Request("v"))->id;
  struct stat st;
  ASSERT_EQ(stat(dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((dir() + "/" + id + ".key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(FileKeyManagerTest, KeyFileRevealsNothingOfTheKey) {
  auto keys = Open(master_);
  std::string id = keys->CreateKey(Request("v"))->id;
  SecretBytes key = *keys->GetKey(id);
  const std::string file = ReadFileOrDie(dir() + "/" + id + ".key");
  const std::string raw(key.char_data(), key.size());
  const SecretBytes hex = HexPassphrase(key);
  EXPECT_EQ(file.find(raw), std::string::npos);
  EXPECT_EQ(file.find(std::string(hex.char_data(), hex.size())), std::string::npos);
  EXPECT_NE(file.find("id=" + id), std::string::npos);
}

TEST_F(FileKeyManagerTest, WrongMasterKeyIsRefusedAtOpen) {
  { Open(master_)->CreateKey(Request("v")).IgnoreError(); }
  SecretBytes other = SecretBytes::Random(32).value();
  auto keys = NewFileKeyManager(dir(), std::move(other), nullptr);
  EXPECT_THAT(keys, StatusIsWith(absl::StatusCode::kPermissionDenied, "master key"));
}

TEST_F(FileKeyManagerTest, MasterKeyMustBe32Bytes) {
  EXPECT_THAT(NewFileKeyManager(dir(), SecretBytes::Random(16).value(), nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(FileKeyManagerTest, CorruptedTruncatedForeignAndRenamedFilesAreDataLoss) {
  auto keys = Open(master_);
  std::string a = keys->CreateKey(Request("a"))->id;
  std::string b = keys->CreateKey(Request("b"))->id;
  const std::string path_a = dir() + "/" + a + ".key";
  const std::string path_b = dir() + "/" + b + ".key";
  std::string content = ReadFileOrDie(path_a);

  std::string flipped = content;
  flipped[flipped.size() - 20] ^= 0x01;
  WriteFile(path_a, flipped);
  EXPECT_THAT(keys->GetKey(a), StatusIsWith(absl::StatusCode::kDataLoss, a));

  WriteFile(path_a, content.substr(0, content.size() - 5));
  EXPECT_THAT(keys->GetKey(a), StatusIsWith(absl::StatusCode::kDataLoss, "truncated"));

  WriteFile(path_a, "not a key file at all\n");
  EXPECT_THAT(keys->GetKey(a), StatusIs(absl::StatusCode::kDataLoss));

  // b's file copied over a's name: the authenticated id says b.
  WriteFile(path_a, ReadFileOrDie(path_b));
  EXPECT_THAT(keys->GetKey(a), StatusIsWith(absl::StatusCode::kDataLoss, "another key"));
}

TEST_F(FileKeyManagerTest, MalformedIdsNeverReachTheFileSystem) {
  auto keys = Open(master_);
  EXPECT_THAT(keys->GetKey("../../etc/passwd"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(keys->DeleteKey("x"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(FileKeyManagerTest, RefusesSymlinkedOrSharedDirectory) {
  ASSERT_EQ(mkdir(tmp_.File("real").c_str(), 0700), 0);
  ASSERT_EQ(symlink(tmp_.File("real").c_str(), dir().c_str()), 0);
  EXPECT_FALSE(NewFileKeyManager(dir(), master_.Clone(), nullptr).ok());
  ASSERT_EQ(chmod(tmp_.File("real").c_str(), 0755), 0);
  EXPECT_THAT(NewFileKeyManager(tmp_.File("real"), master_.Clone(), nullptr),
              StatusIsWith(absl::StatusCode::kPermissionDenied, "0700"));
}

TEST_F(FileKeyManagerTest, FindKeysByNameForReconcile) {
  auto keys = Open(master_);
  std::string a1 = keys->CreateKey(Request("volcrypt-volume-a"))->id;
  std::string a2 = keys->CreateKey(Request("volcrypt-volume-a"))->id;
  std::string b = keys->CreateKey(Request("volcrypt-volume-b"))->id;
  absl::StatusOr<std::vector<std::string>> found =
      keys->FindKeysByName("volcrypt-volume-a");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(std::set<std::string>(found->begin(), found->end()),
            (std::set<std::string>{a1, a2}));
}

TEST_F(FileKeyManagerTest, ConcurrentCreatesAllSurvive) {
  auto keys = Open(master_);
  std::vector<std::thread> threads;
  std::vector<std::string> ids(40);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) ids[t * 10 + i] = keys->CreateKey(Request("c"))->id;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 40u);
  for (const std::string& id : ids) EXPECT_TRUE(keys->GetKey(id).ok());
}

TEST_F(FileKeyManagerTest, InvalidRequests) {
  auto keys = Open(master_);
  EXPECT_THAT(keys->CreateKey(Request("")), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(keys->CreateKey(Request("bad\nname")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(keys->CreateKey(Request("v", 100)), StatusIs(absl::StatusCode::kInvalidArgument));
}

std::vector<std::string> TempFiles(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    if (std::string(e->d_name).rfind(".tmp-", 0) == 0) out.push_back(dir + "/" + e->d_name);
  }
  closedir(d);
  return out;
}

void MakeOld(const std::string& path) {
  struct timespec times[2] = {{time(nullptr) - 120, 0}, {time(nullptr) - 120, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

TEST_F(FileKeyManagerTest, OpenRemovesATempFileLeftByAWriterKilledBeforeItsRename) {
  ASSERT_NE(Open(master_), nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    auto keys = NewFileKeyManager(dir(), master_.Clone(), nullptr);
    die_at_rename = true;
    if (keys.ok()) (void)(*keys)->CreateKey(Request("volume-v1"));
    _exit(1);
  }
  ASSERT_EQ(testing::WaitForExit(pid), 42);
  std::vector<std::string> left = TempFiles(dir());
  ASSERT_EQ(left.size(), 1u) << "the kill left no temp file: the test tests nothing";
  // Unlocked, it is a dead writer's (a live one holds its lock): removed at
  // once, so a reconcile right after the crash leaves nothing.
  ASSERT_NE(Open(master_), nullptr);
  EXPECT_TRUE(TempFiles(dir()).empty());
}

TEST_F(FileKeyManagerTest, OpenLeavesATempFileThatAWriterStillHolds) {
  ASSERT_NE(Open(master_), nullptr);
  const std::string tmp = dir() + "/.tmp-held";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX), 0);  // as a slow writer in another process
  MakeOld(tmp);
  ASSERT_NE(Open(master_), nullptr);
  EXPECT_EQ(access(tmp.c_str(), F_OK), 0);
  close(fd);
}

TEST(MasterKeyFileTest, RawHexAndPermissions) {
  TempDir tmp;
  absl::StatusOr<SecretBytes> made = CreateMasterKeyFile(tmp.File("master"));
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_TRUE(ReadMasterKeyFile(tmp.File("master"))->Equals(*made));
  EXPECT_THAT(CreateMasterKeyFile(tmp.File("master")),
              StatusIs(absl::StatusCode::kAlreadyExists));

  const std::string hex_path = tmp.File("hex");
  {
    std::ofstream out(hex_path);
    out << "  " << std::string(HexPassphrase(*made).char_data(), 64) << "\n";
  }
  chmod(hex_path.c_str(), 0600);
  EXPECT_TRUE(ReadMasterKeyFile(hex_path)->Equals(*made));

  chmod(hex_path.c_str(), 0644);
  EXPECT_THAT(ReadMasterKeyFile(hex_path),
              StatusIsWith(absl::StatusCode::kPermissionDenied, "chmod 600"));
  std::ofstream(tmp.File("short")) << "abcd";
  chmod(tmp.File("short").c_str(), 0600);
  EXPECT_THAT(ReadMasterKeyFile(tmp.File("short")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ReadMasterKeyFile(tmp.File("missing")), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace volcrypt
