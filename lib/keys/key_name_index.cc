#include "lib/keys/key_name_index.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "lib/util/fd_io.h"
#include "volcrypt/errors.h"

namespace volcrypt {

const char KeyNameIndex::kFileName[] = ".names";

namespace {

constexpr char kKeySuffix[] = ".key";
constexpr char kRewriteName[] = ".names.new";
constexpr size_t kIdChars = 36;
// An index bigger than this is not ours (a million keys is ~100 MiB):
// ignored and rebuilt.
constexpr off_t kMaxIndexBytes = off_t{256} << 20;
// Rewrite rather than append when this many lines are missing or stale.
constexpr size_t kRewriteAt = 256;
// A directory mtime is stamped only once it is this old: every later change
// then lands on a later timestamp, even on file systems that keep mtimes in
// coarse ticks (jiffies) or whole seconds.
constexpr int64_t kStampAgeNanos = int64_t{2} * 1000 * 1000 * 1000;

// The check on each line: a torn or half-overwritten line fails it.
uint64_t LineCheck(std::string_view id, std::string_view name) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  };
  mix(id);
  mix(std::string_view("\0", 1));
  mix(name);
  return h;
}

std::string Line(std::string_view id, std::string_view name) {
  char check[17];
  std::snprintf(check, sizeof(check), "%016" PRIx64, LineCheck(id, name));
  std::string line;
  line.reserve(id.size() + name.size() + 19);
  line.append(id).append(" ").append(check).append(" ").append(name).append("\n");
  return line;
}

// "@ <sec> <nsec> <offset> <lines> <check>\n": the directory's mtime when
// every key file in it had a line above this one, where this line starts
// and how many lines precede it (so that lines lost before it, say to a
// crash that kept a later block, void it).
std::string StampLine(const struct timespec& t, size_t offset, size_t lines) {
  const std::string text = std::to_string(static_cast<int64_t>(t.tv_sec)) + " " +
                           std::to_string(static_cast<int64_t>(t.tv_nsec)) + " " +
                           std::to_string(offset) + " " + std::to_string(lines);
  char check[17];
  std::snprintf(check, sizeof(check), "%016" PRIx64, LineCheck("@", text));
  return "@ " + text + " " + check + "\n";
}

bool SameTime(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

// One pass over the index without building a map: the ids of whole lines
// naming `name`, and whether its last whole stamp is `mtime`.
struct Scan {
  std::vector<std::string_view> candidates;
  bool stamped = false;
  size_t stamps = 0;  // stamp lines, all but the last of them dead weight
};

Scan ScanFor(std::string_view text, const std::string& name, const struct timespec& mtime) {
  Scan out;
  const std::string_view all = text;
  size_t lines = 0;
  std::string_view last_stamp;
  size_t last_stamp_offset = 0;
  size_t last_stamp_lines = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos) break;  // torn tail
    const size_t offset = all.size() - text.size();
    std::string_view line = text.substr(0, nl + 1);
    text.remove_prefix(nl + 1);
    if (line[0] == '@') {  // only the last one counts: checked after the loop
      last_stamp = line;
      last_stamp_offset = offset;
      last_stamp_lines = lines;
      ++out.stamps;
      ++lines;
      continue;
    }
    ++lines;
    line.remove_suffix(1);
    if (line.size() != kIdChars + 18 + name.size() || line[kIdChars] != ' ' ||
        line.substr(kIdChars + 18) != name) {
      continue;
    }
    const std::string_view id = line.substr(0, kIdChars);
    char want[17];
    std::snprintf(want, sizeof(want), "%016" PRIx64, LineCheck(id, name));
    if (line.substr(kIdChars + 1, 16) == std::string_view(want, 16)) {
      out.candidates.push_back(id);
    }
  }
  out.stamped = !last_stamp.empty() &&
                last_stamp == StampLine(mtime, last_stamp_offset, last_stamp_lines);
  return out;
}

// id -> name for every line that passes its check, without ids that appear
// twice (a line for them cannot be trusted: their files are read).
std::unordered_map<std::string_view, std::string_view> Parse(std::string_view text) {
  std::unordered_map<std::string_view, std::string_view> out;
  std::unordered_set<std::string_view> twice;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos) break;  // torn tail
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (line.size() < kIdChars + 1 + 16 + 2 || line[kIdChars] != ' ' ||
        line[kIdChars + 17] != ' ') {
      continue;
    }
    const std::string_view id = line.substr(0, kIdChars);
    const std::string_view name = line.substr(kIdChars + 18);
    char want[17];
    std::snprintf(want, sizeof(want), "%016" PRIx64, LineCheck(id, name));
    if (line.substr(kIdChars + 1, 16) != std::string_view(want, 16)) continue;
    auto [it, added] = out.emplace(id, name);
    if (!added && it->second != name) twice.insert(id);
  }
  for (std::string_view id : twice) out.erase(id);
  return out;
}

struct DirCloser {
  void operator()(DIR* d) const { closedir(d); }
};

// An exclusive flock on the key directory itself (no lock file to leave
// behind), released when it goes.
absl::StatusOr<ScopedFd> LockIndex(int dir_fd, const std::string& dir) {
  ScopedFd fd(openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus("open", dir);
  if (flock(fd.get(), LOCK_EX) != 0) return ErrnoStatus("lock key index", dir);
  return fd;
}

// Appends `lines`, then the stamp `listed_at` if the directory's mtime is
// still that (nothing was added since the caller listed it).
absl::Status Append(int dir_fd, const std::string& dir, std::string lines,
                    const struct timespec* listed_at = nullptr) {
  absl::StatusOr<ScopedFd> lock = LockIndex(dir_fd, dir);
  if (!lock.ok()) return lock.status();
  struct stat dst;
  const bool stamp =
      listed_at != nullptr && fstat(dir_fd, &dst) == 0 && SameTime(dst.st_mtim, *listed_at);
  if (lines.empty() && !stamp) return absl::OkStatus();
  ScopedFd fd(openat(dir_fd, KeyNameIndex::kFileName,
                     O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) return ErrnoStatus("open key index", dir);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus("stat key index", dir);
  // A writer killed mid-line left a torn tail: end it, so that the torn
  // line fails its check instead of swallowing ours.
  std::string before;
  if (stamp) {  // the stamp counts the lines before it
    before.resize(static_cast<size_t>(st.st_size));
    if (!ReadFully(fd.get(), 0, before.data(), before.size(), dir).ok()) return absl::OkStatus();
  }
  char last = '\n';
  if (st.st_size > 0 && pread(fd.get(), &last, 1, st.st_size - 1) != 1) last = 0;
  if (last != '\n') lines.insert(0, "\n");
  if (stamp) {
    const size_t count = static_cast<size_t>(std::count(before.begin(), before.end(), '\n') +
                                             std::count(lines.begin(), lines.end(), '\n'));
    lines += StampLine(*listed_at, static_cast<size_t>(st.st_size) + lines.size(), count);
  }
  return WriteFully(fd.get(), static_cast<uint64_t>(st.st_size), lines.data(), lines.size(),
                    dir + "/" + KeyNameIndex::kFileName);
}

absl::Status Rewrite(int dir_fd, const std::string& dir, const std::string& text) {
  absl::StatusOr<ScopedFd> lock = LockIndex(dir_fd, dir);
  if (!lock.ok()) return lock.status();
  ScopedFd fd(openat(dir_fd, kRewriteName,
                     O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) return ErrnoStatus("create key index", dir);
  absl::Status s = WriteFully(fd.get(), 0, text.data(), text.size(), dir + "/" + kRewriteName);
  if (!s.ok()) return s;
  if (renameat(dir_fd, kRewriteName, dir_fd, KeyNameIndex::kFileName) != 0) {
    return ErrnoStatus("replace key index", dir);
  }
  return absl::OkStatus();
}

}  // namespace

std::string KeyNameIndex::ReadIndexText() const {
  std::string text;
  ScopedFd fd(openat(dir_fd_, kFileName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  struct stat st;
  if (fd.get() >= 0 && fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) &&
      st.st_size <= kMaxIndexBytes) {
    text.resize(static_cast<size_t>(st.st_size));
    if (!ReadFully(fd.get(), 0, text.data(), text.size(), dir_).ok()) text.clear();
  }
  return text;  // unreadable counts as empty
}

void KeyNameIndex::Record(const std::string& id, const std::string& name) {
  (void)Append(dir_fd_, dir_, Line(id, name));
}

absl::StatusOr<std::vector<std::string>> KeyNameIndex::Find(const std::string& name,
                                                            const HeaderReader& read_header) {
  // The directory's mtime first: a key file added after it changes it.
  struct stat dst;
  if (fstat(dir_fd_, &dst) != 0) return ErrnoStatus("stat", dir_);
  const struct timespec mtime = dst.st_mtim;
  const std::string text = ReadIndexText();

  // 0. A stamp of this very mtime: the index holds every key file there is,
  // so only the candidates' own headers are read.
  const Scan scan = ScanFor(text, name, mtime);
  if (scan.stamped) {
    std::vector<std::string> found;
    std::unordered_set<std::string_view> seen;
    for (std::string_view id : scan.candidates) {
      if (!seen.insert(id).second) continue;
      absl::StatusOr<Header> h = read_header(std::string(id));
      if (h.ok() && h->id == id && h->name == name) found.emplace_back(id);
    }
    return found;
  }

  // 1. The keys that exist: names only.
  std::vector<std::string> ids;
  {
    const int fd = openat(dir_fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("list", dir_);
    std::unique_ptr<DIR, DirCloser> d(fdopendir(fd));
    if (d == nullptr) {
      close(fd);
      return ErrnoStatus("list", dir_);
    }
    while (dirent* e = readdir(d.get())) {
      const std::string_view entry = e->d_name;
      constexpr size_t kSuffix = sizeof(kKeySuffix) - 1;
      if (entry[0] == '.' || entry.size() <= kSuffix ||
          entry.substr(entry.size() - kSuffix) != kKeySuffix) {
        continue;
      }
      ids.emplace_back(entry.substr(0, entry.size() - kSuffix));
    }
  }
  // 2. The index as it stood.
  const std::unordered_map<std::string_view, std::string_view> indexed = Parse(text);

  // 3 and 4: read what the index lacks, and every candidate.
  std::vector<std::string> found;
  std::vector<std::pair<std::string, std::string>> healed;
  size_t live = 0;
  bool unsure = false;
  for (const std::string& id : ids) {
    auto it = indexed.find(id);
    if (it != indexed.end()) {
      ++live;
      if (it->second != name) continue;
    }
    absl::StatusOr<Header> h = read_header(id);
    if (!h.ok() && h.status().code() != absl::StatusCode::kNotFound &&
        h.status().code() != absl::StatusCode::kDataLoss) {
      unsure = true;  // a read that failed for now: this listing proves nothing
    }
    if (!h.ok() || h->id != id) continue;  // gone, foreign or renamed: never indexed
    if (it == indexed.end()) healed.emplace_back(id, h->name);
    if (h->name == name) found.push_back(id);
  }
  const size_t stale = indexed.size() - live;
  if (healed.size() > kRewriteAt || (stale > kRewriteAt && stale > live) ||
      scan.stamps > kRewriteAt) {
    std::string all;
    for (const std::string& id : ids) {
      auto it = indexed.find(id);
      if (it != indexed.end()) all += Line(id, it->second);
    }
    for (const auto& [id, key_name] : healed) all += Line(id, key_name);
    (void)Rewrite(dir_fd_, dir_, all);
  } else {
    // Every key listed is indexed now. Stamp the mtime it was listed at if
    // that is old enough that no later change can share it; Append drops
    // the stamp if the directory changed meanwhile.
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    const int64_t age = (static_cast<int64_t>(now.tv_sec) - mtime.tv_sec) * 1000000000 +
                        (now.tv_nsec - mtime.tv_nsec);
    const bool stampable = !unsure && age >= kStampAgeNanos;
    std::string lines;
    for (const auto& [id, key_name] : healed) lines += Line(id, key_name);
    if (!lines.empty() || stampable) {
      (void)Append(dir_fd_, dir_, lines, stampable ? &mtime : nullptr);
    }
  }
  return found;
}

}  // namespace volcrypt
