// The file key manager's name index (lib/keys/key_name_index.h): lookups
// by name read only what they must, and no kill, race, stale or hostile
// index hides a key from its name or returns one under another name.
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "lib/keys/key_name_index.h"
#include "tests/support/test_support.h"
#include "volcrypt/file_key_manager.h"

// A kill in the middle of an index line, on cue: the executable's pwrite
// (the one the library calls) writes half of the first buffer that looks
// like an index line ("<36-char id> <16 hex> ...") and _exit()s.
static bool die_mid_index_line = false;

extern "C" ssize_t pwrite(int fd, const void* buf, size_t len, off_t offset) {
  using PWrite = ssize_t (*)(int, const void*, size_t, off_t);
  static auto real = reinterpret_cast<PWrite>(dlsym(RTLD_NEXT, "pwrite"));
  const char* p = static_cast<const char*>(buf);
  if (die_mid_index_line && len > 54 && p[36] == ' ' && p[53] == ' ') {
    real(fd, buf, len / 2, offset);
    _exit(43);
  }
  return real(fd, buf, len, offset);
}

namespace volcrypt {
namespace {

using ::volcrypt::testing::TempDir;

KeyRequest Request(const std::string& name) {
  KeyRequest r;
  r.bits = 256;
  r.name = name;
  return r;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) out.push_back(e->d_name);
    closedir(d);
  }
  return out;
}

std::set<std::string> AsSet(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

class KeyNameIndexTest : public ::testing::Test {
 protected:
  std::unique_ptr<KeyManager> Open() {
    auto keys = NewFileKeyManager(dir(), master_.Clone(), nullptr);
    EXPECT_TRUE(keys.ok()) << keys.status();
    return keys.ok() ? std::move(*keys) : nullptr;
  }
  std::string dir() const { return tmp_.File("keys"); }
  std::string index() const { return dir() + "/" + KeyNameIndex::kFileName; }
  std::string ReadIndex() const {
    std::ifstream in(index(), std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  void WriteIndex(const std::string& text) {
    std::ofstream(index(), std::ios::binary | std::ios::trunc) << text;
  }
  // The ids the index holds a whole line for.
  std::set<std::string> IndexedIds() const {
    std::set<std::string> ids;
    std::istringstream in(ReadIndex());
    for (std::string line; std::getline(in, line);) {
      if (line.size() > 54 && line[36] == ' ') ids.insert(line.substr(0, 36));
    }
    return ids;
  }
  // The truth, from the key files themselves: name -> ids.
  std::map<std::string, std::set<std::string>> ByNameFromFiles() {
    std::map<std::string, std::set<std::string>> out;
    for (const std::string& f : ListDir(dir())) {
      if (f.size() != 40 || f.substr(36) != ".key") continue;
      std::ifstream in(dir() + "/" + f, std::ios::binary);
      for (std::string line; std::getline(in, line) && !line.empty();) {
        if (line.rfind("name=", 0) == 0) out[line.substr(5)].insert(f.substr(0, 36));
      }
    }
    return out;
  }
  struct timespec DirMtime() const {
    struct stat st;
    EXPECT_EQ(stat(dir().c_str(), &st), 0);
    return st.st_mtim;
  }
  void SetDirMtime(const struct timespec& t) {
    struct timespec times[2] = {t, t};
    ASSERT_EQ(utimensat(AT_FDCWD, dir().c_str(), times, 0), 0);
  }
  // As if the directory's last change were long ago (a lookup stamps only
  // an mtime at least 2 s old).
  void AgeDirectory(int seconds) { SetDirMtime({time(nullptr) - seconds, 123456789}); }
  TempDir tmp_;
  SecretBytes master_ = SecretBytes::Random(32).value();
};

TEST_F(KeyNameIndexTest, AStampedIndexIsTrustedOnlyWhileTheDirectoryIsUnchanged) {
  auto keys = Open();
  const std::string a = keys->CreateKey(Request("n"))->id;
  EXPECT_EQ(keys->FindKeysByName("n").value(), std::vector<std::string>{a});
  EXPECT_EQ(ReadIndex().find("@ "), std::string::npos) << "a fresh mtime was stamped";
  AgeDirectory(10);
  EXPECT_EQ(keys->FindKeysByName("n").value(), std::vector<std::string>{a});
  ASSERT_NE(ReadIndex().find("\n@ "), std::string::npos) << "no stamp";
  // A key stored since changed the mtime: the directory is listed again.
  const std::string b = keys->CreateKey(Request("n"))->id;
  EXPECT_EQ(AsSet(keys->FindKeysByName("n").value()), (std::set<std::string>{a, b}));

  // White box: the stamp is what lets a lookup skip the listing. A key
  // with no line, in a directory whose mtime is put back to the stamped
  // one, goes unseen...
  AgeDirectory(10);
  ASSERT_EQ(AsSet(keys->FindKeysByName("n").value()), (std::set<std::string>{a, b}));
  const struct timespec stamped = DirMtime();
  const std::string text = ReadIndex();
  const std::string c = keys->CreateKey(Request("n"))->id;
  WriteIndex(text);
  SetDirMtime(stamped);
  EXPECT_EQ(AsSet(keys->FindKeysByName("n").value()), (std::set<std::string>{a, b}))
      << "the stamp was not used";
  // ...and any other mtime voids the stamp: c is found and indexed.
  AgeDirectory(5);
  EXPECT_EQ(AsSet(keys->FindKeysByName("n").value()), (std::set<std::string>{a, b, c}));
  EXPECT_TRUE(IndexedIds().count(c));
}

TEST_F(KeyNameIndexTest, AStoreRacingAStampingLookupIsNeverHidden) {
  auto keys = Open();
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(keys->CreateKey(Request("bulk")).ok());
  for (int round = 0; round < 15; ++round) {
    AgeDirectory(10);  // the lookups below may stamp
    const pid_t pid = fork();
    if (pid == 0) {
      auto child = NewFileKeyManager(dir(), master_.Clone(), nullptr);
      usleep(200 * round);
      _exit(child.ok() && (*child)->CreateKey(Request("raced")).ok() ? 0 : 1);
    }
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(keys->FindKeysByName("raced").ok());
    ASSERT_EQ(testing::WaitForExit(pid), 0);
    EXPECT_EQ(AsSet(keys->FindKeysByName("raced").value()), ByNameFromFiles()["raced"])
        << "round " << round;
  }
  EXPECT_EQ(ByNameFromFiles()["raced"].size(), 15u);
}

TEST_F(KeyNameIndexTest, OldStampsAreDroppedOnceTheyPileUp) {
  auto keys = Open();
  const std::string a = keys->CreateKey(Request("n"))->id;
  std::string text = ReadIndex();
  for (int i = 0; i < 300; ++i) text += "@ 1 " + std::to_string(i) + " 0 0 0000000000000000\n";
  WriteIndex(text);
  EXPECT_EQ(keys->FindKeysByName("n").value(), std::vector<std::string>{a});
  EXPECT_EQ(ReadIndex().find("@ "), std::string::npos) << "the dead stamps stayed";
  EXPECT_EQ(IndexedIds(), std::set<std::string>{a});
}

TEST_F(KeyNameIndexTest, LinesLostBeforeAStampVoidIt) {
  auto keys = Open();
  const std::string a = keys->CreateKey(Request("n"))->id;
  const std::string b = keys->CreateKey(Request("m"))->id;
  AgeDirectory(10);
  ASSERT_EQ(keys->FindKeysByName("m").value(), std::vector<std::string>{b});
  std::string text = ReadIndex();
  ASSERT_NE(text.find("\n@ "), std::string::npos) << "no stamp";
  const size_t first = text.find('\n') + 1;
  ASSERT_EQ(text.substr(0, 36), a);
  // A crash that kept the later block with the stamp but zeroed a's line.
  text.replace(0, first, std::string(first, '\0'));
  WriteIndex(text);
  EXPECT_EQ(keys->FindKeysByName("n").value(), std::vector<std::string>{a});
}

TEST_F(KeyNameIndexTest, EveryStoredKeyGetsItsLineAndIsFoundByName) {
  auto keys = Open();
  const std::string a1 = keys->CreateKey(Request("volume-a"))->id;
  const std::string b = keys->CreateKey(Request("volume-b"))->id;
  const std::string a2 = keys->CreateKey(Request("volume-a"))->id;
  EXPECT_EQ(IndexedIds(), (std::set<std::string>{a1, a2, b}));
  EXPECT_EQ(AsSet(keys->FindKeysByName("volume-a").value()), (std::set<std::string>{a1, a2}));
  EXPECT_EQ(keys->FindKeysByName("volume-b").value(), std::vector<std::string>{b});
  EXPECT_TRUE(keys->FindKeysByName("volume-c").value().empty());
  ASSERT_TRUE(keys->DeleteKey(a1).ok());
  EXPECT_EQ(keys->FindKeysByName("volume-a").value(), std::vector<std::string>{a2});
}

TEST_F(KeyNameIndexTest, AMissingIndexIsRebuiltFromTheKeyFiles) {
  auto keys = Open();
  std::set<std::string> a;
  for (int i = 0; i < 300; ++i) {  // over the rewrite threshold
    const std::string id = keys->CreateKey(Request(i % 2 ? "odd" : "even"))->id;
    if (i % 2) a.insert(id);
  }
  ASSERT_EQ(unlink(index().c_str()), 0);
  EXPECT_EQ(AsSet(keys->FindKeysByName("odd").value()), a);
  EXPECT_EQ(IndexedIds().size(), 300u);  // written back whole
  EXPECT_EQ(AsSet(keys->FindKeysByName("odd").value()), a);
}

TEST_F(KeyNameIndexTest, AKeyStoredWithoutItsLineIsFoundAndIndexed) {
  // As left by an older volcrypt, a restored directory, or a writer killed
  // between its key's rename and its index line.
  auto keys = Open();
  const std::string first = keys->CreateKey(Request("v"))->id;
  const std::string before = ReadIndex();
  const std::string second = keys->CreateKey(Request("v"))->id;
  WriteIndex(before);
  ASSERT_EQ(IndexedIds(), std::set<std::string>{first});
  EXPECT_EQ(AsSet(keys->FindKeysByName("v").value()), (std::set<std::string>{first, second}));
  EXPECT_EQ(IndexedIds(), (std::set<std::string>{first, second}));
}

TEST_F(KeyNameIndexTest, HostileAndTornLinesNeverHideOrMisPointAKey) {
  auto keys = Open();
  const std::string a = keys->CreateKey(Request("name-a"))->id;
  const std::string b = keys->CreateKey(Request("name-b"))->id;
  const std::string good = ReadIndex();
  const std::string line_a = good.substr(0, good.find('\n') + 1);
  std::string forged = line_a;  // a's id under b's name, check left as it was
  forged.replace(forged.find("name-a"), 6, "name-b");
  const std::vector<std::string> indexes = {
      "",
      std::string(4096, '\0'),
      "garbage\n\n \n" + std::string(200, 'x') + "\n",
      forged,                                       // fails its check
      good + forged,                                // a named twice: both dropped
      line_a.substr(0, 50),                         // torn
      good.substr(0, good.size() - 5),              // b's line torn
      std::string(300, '\n') + good + "\xff\xfe\n",
  };
  for (const std::string& text : indexes) {
    WriteIndex(text);
    EXPECT_EQ(keys->FindKeysByName("name-a").value(), std::vector<std::string>{a});
    EXPECT_EQ(keys->FindKeysByName("name-b").value(), std::vector<std::string>{b});
    const std::string now = ReadIndex();
    EXPECT_NE(now.find(a + " "), std::string::npos) << "a not indexed again";
    EXPECT_NE(now.find(b + " "), std::string::npos) << "b not indexed again";
  }
}

TEST_F(KeyNameIndexTest, AKeyFileRenamedToAnotherIdIsNeverReturned) {
  auto keys = Open();
  const std::string a = keys->CreateKey(Request("n"))->id;
  const std::string other = "00000000-0000-4000-8000-000000000000";
  ASSERT_EQ(link((dir() + "/" + a + ".key").c_str(), (dir() + "/" + other + ".key").c_str()), 0);
  EXPECT_EQ(keys->FindKeysByName("n").value(), std::vector<std::string>{a});
  EXPECT_EQ(IndexedIds().count(other), 0u);
}

TEST_F(KeyNameIndexTest, AKillInTheMiddleOfAnIndexLineLosesNoKey) {
  auto keys = Open();
  const std::string before = keys->CreateKey(Request("v"))->id;
  const pid_t pid = fork();
  if (pid == 0) {
    auto child = NewFileKeyManager(dir(), master_.Clone(), nullptr);
    die_mid_index_line = true;
    if (child.ok()) (void)(*child)->CreateKey(Request("v"));
    _exit(1);
  }
  ASSERT_EQ(testing::WaitForExit(pid), 43) << "the kill did not come mid-line";
  const std::set<std::string> truth = ByNameFromFiles()["v"];
  ASSERT_EQ(truth.size(), 2u) << "the key file itself should be whole";
  ASSERT_NE(ReadIndex().back(), '\n') << "no torn line: the test tests nothing";
  // The next store ends the torn line before its own; the lookup finds both.
  const std::string after = keys->CreateKey(Request("v"))->id;
  std::set<std::string> want = truth;
  want.insert(after);
  EXPECT_EQ(AsSet(keys->FindKeysByName("v").value()), want);
  EXPECT_EQ(IndexedIds(), want);
  EXPECT_TRUE(want.count(before));
}

TEST_F(KeyNameIndexTest, KillsAtRandomPointsOfStoresNeverLoseOrMisPointAKey) {
  ASSERT_NE(Open(), nullptr);
  for (int round = 0; round < 12; ++round) {
    const pid_t pid = fork();
    if (pid == 0) {
      auto child = NewFileKeyManager(dir(), master_.Clone(), nullptr);
      for (int i = 0; child.ok(); ++i) (void)(*child)->CreateKey(Request("k" + std::to_string(i % 3)));
      _exit(1);
    }
    usleep(3000 + 2500 * round);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    auto keys = Open();
    for (const auto& [name, ids] : ByNameFromFiles()) {
      EXPECT_EQ(AsSet(keys->FindKeysByName(name).value()), ids) << "round " << round;
    }
  }
}

TEST_F(KeyNameIndexTest, TwoProcessesStoringAtOnceWhileAThirdRebuildsLoseNoLine) {
  ASSERT_NE(Open(), nullptr);
  std::vector<pid_t> writers;
  for (int w = 0; w < 2; ++w) {
    const pid_t pid = fork();
    if (pid == 0) {
      auto child = NewFileKeyManager(dir(), master_.Clone(), nullptr);
      for (int i = 0; child.ok() && i < 60; ++i) {
        if (!(*child)->CreateKey(Request("w" + std::to_string(w))).ok()) _exit(2);
      }
      _exit(child.ok() ? 0 : 3);
    }
    writers.push_back(pid);
  }
  const pid_t reader = fork();
  if (reader == 0) {  // keeps throwing the index away and rebuilding it
    auto child = NewFileKeyManager(dir(), master_.Clone(), nullptr);
    for (int i = 0; child.ok() && i < 40; ++i) {
      unlink(index().c_str());
      if (!(*child)->FindKeysByName("w0").ok()) _exit(2);
    }
    _exit(0);
  }
  for (pid_t pid : writers) EXPECT_EQ(testing::WaitForExit(pid), 0);
  EXPECT_EQ(testing::WaitForExit(reader), 0);
  auto keys = Open();
  std::map<std::string, std::set<std::string>> truth = ByNameFromFiles();
  ASSERT_EQ(truth["w0"].size(), 60u);
  ASSERT_EQ(truth["w1"].size(), 60u);
  EXPECT_EQ(AsSet(keys->FindKeysByName("w0").value()), truth["w0"]);
  EXPECT_EQ(AsSet(keys->FindKeysByName("w1").value()), truth["w1"]);
  // After one lookup the index is whole again: no key is left unindexed.
  std::set<std::string> all = truth["w0"];
  all.insert(truth["w1"].begin(), truth["w1"].end());
  EXPECT_EQ(IndexedIds(), all);
}

TEST_F(KeyNameIndexTest, WithoutAReaderTheWritersAloneLeaveAWholeIndex) {
  ASSERT_NE(Open(), nullptr);
  std::vector<pid_t> writers;
  for (int w = 0; w < 2; ++w) {
    const pid_t pid = fork();
    if (pid == 0) {
      auto child = NewFileKeyManager(dir(), master_.Clone(), nullptr);
      for (int i = 0; child.ok() && i < 60; ++i) {
        if (!(*child)->CreateKey(Request("w" + std::to_string(w))).ok()) _exit(2);
      }
      _exit(child.ok() ? 0 : 3);
    }
    writers.push_back(pid);
  }
  for (pid_t pid : writers) EXPECT_EQ(testing::WaitForExit(pid), 0);
  std::map<std::string, std::set<std::string>> truth = ByNameFromFiles();
  std::set<std::string> all = truth["w0"];
  all.insert(truth["w1"].begin(), truth["w1"].end());
  ASSERT_EQ(all.size(), 120u);
  EXPECT_EQ(IndexedIds(), all);  // before any lookup could heal it
}

}  // namespace
}  // namespace volcrypt
