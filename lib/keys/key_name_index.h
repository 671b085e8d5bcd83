// File: lib/keys/key_name_index.h
// -----------------------------------------------------------------------------
// An index from key names to key ids for a FileKeyManager directory, so that
// FindKeysByName (run by every reconcile, rollback and migration item) reads
// the few key files with that name instead of every key file.
//
// The index is a cache, never the truth: the key files are. Its file,
// `.names` in the key directory, holds one line per key,
// "<id> <16 hex of FNV-1a 64 of id and name> <name>\n". A lookup:
//   1. lists the directory (names only, no file opened): the keys that exist;
//   2. reads `.names`, dropping every line that is torn, fails its check or
//      names an id twice; a line whose key no longer exists is ignored;
//   3. reads the header of every existing key the index lacks (keys written
//      by an older volcrypt, by a writer killed before its index line, or a
//      restored directory): the index is stale there, and those lines are
//      added (or `.names` rewritten when most of it is stale or unreadable);
//   4. reads the key file of every id the index names `name` and returns it
//      only if the file's own header says that name and that id.
// Once a lookup has found every listed key indexed, it appends a stamp
// line, "@ <sec> <nsec> <check>", holding the directory's mtime as of its
// listing (read before the listing, checked again under the lock). A
// lookup that finds the last stamp equal to the directory's mtime skips
// steps 1-3: no key file can have been added or renamed in since, as that
// changes the mtime. Only an mtime at least 2 s old is stamped, so that no
// later change can share its timestamp on file systems with coarse ticks
// or whole seconds; a directory changed within the last 2 s (a create, a
// delete, the index's own rewrite) is listed.
//
// So a kill at any point (between a key's rename and its index line, in the
// middle of an append, of a rewrite) costs at most one rebuild; it can never
// hide a key from its name or return one under another name. Writers append
// and rewrite (through `.names.new`) under an exclusive flock of the key
// directory; readers take no
// lock (a line being appended is torn to them: they read that key's file).
// No fsync: a line lost to a power cut is rebuilt like any other.
//
// Thread-safe; any number of processes may share a directory.
#ifndef VOLCRYPT_LIB_KEYS_KEY_NAME_INDEX_H_
#define VOLCRYPT_LIB_KEYS_KEY_NAME_INDEX_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace volcrypt {

class KeyNameIndex {
 public:
  // The id and name a key file's own header states.
  struct Header {
    std::string id;
    std::string name;
  };
  // Reads the header of key file `<id>.key`; an error for a file that is
  // gone, unreadable or not a key file.
  using HeaderReader = std::function<absl::StatusOr<Header>(const std::string& id)>;

  // `dir_fd` (not owned) is the open key directory `dir`.
  KeyNameIndex(int dir_fd, std::string dir) : dir_fd_(dir_fd), dir_(std::move(dir)) {}

  // Adds the line of a key just stored. Best effort: a key without its line
  // is found by step 3 of the next lookup.
  void Record(const std::string& id, const std::string& name);

  // The ids of the existing keys whose own header says `name` and their id.
  absl::StatusOr<std::vector<std::string>> Find(const std::string& name,
                                                const HeaderReader& read_header);

  // The index file's name in the key directory (for tests).
  static const char kFileName[];

 private:
  std::string ReadIndexText() const;

  const int dir_fd_;
  const std::string dir_;
};

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_KEYS_KEY_NAME_INDEX_H_
