// Key id change claims. A claim is "<host>/<pid>/<nonce>" in the row's
// key_claim column with an expiry in key_claim_until (Unix seconds). It is
// taken by one compare-and-set UPDATE, so two migrators never both hold it,
// and Commit writes the new key id only WHERE the claim is still ours and
// the item is not being created or deleted: a claim that expired and was
// taken over, or a delete that began meanwhile, makes Commit fail and the
// caller gives up its new secret. A claim whose owner is a dead process on
// this host is taken over at once; one from another host only after its
// lease, so a killed migrator never blocks an item for good.
#include "lib/store/key_id_change.h"

#include <openssl/rand.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/store/record_rows.h"
#include "lib/util/host_name.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace {

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

std::string NewClaimToken() {
  unsigned char nonce[8] = {};
  (void)RAND_bytes(nonce, sizeof(nonce));
  std::string hex;
  for (unsigned char c : nonce) absl::StrAppend(&hex, absl::Hex(c, absl::kZeroPad2));
  return absl::StrCat(SystemHostName(), "/", getpid(), "/", hex);
}

// True if `token` names a process on this host that no longer exists.
bool OwnerIsGone(const std::string& token) {
  std::vector<std::string> parts = absl::StrSplit(token, '/');
  int pid = 0;
  if (parts.size() != 3 || parts[0] != SystemHostName() ||
      !absl::SimpleAtoi(parts[1], &pid) || pid <= 0) {
    return false;
  }
  return kill(pid, 0) != 0 && errno == ESRCH;
}

bool Owned(const std::string& status) {
  return status == "creating" || status == "deleting" || status == "managing" ||
         status == "rekeying" || status == "converting";
}

class Claim {
 public:
  Claim(SqlConnection& db, std::recursive_mutex& mu, KeyHolderKind kind,
        std::string id)
      : db_(db), mu_(mu), kind_(kind), id_(std::move(id)),
        table_(kind == KeyHolderKind::kVolume ? "volumes" : "backups") {}

  absl::StatusOr<SqlRows> Run(const std::string& sql,
                              const std::vector<SqlParam>& params) {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return db_.Run(sql, params);
  }

  std::string Noun() const {
    return absl::StrCat(KeyHolderKindName(kind_), " ", ShownId(id_));
  }

  SqlConnection& db_;
  std::recursive_mutex& mu_;
  const KeyHolderKind kind_;
  const std::string id_;
  const std::string table_;
};

class SqlKeyIdChange final : public KeyIdChange {
 public:
  SqlKeyIdChange(Claim claim, std::string old_key_id, std::string token)
      : claim_(std::move(claim)), old_key_id_(std::move(old_key_id)),
        token_(std::move(token)) {}

  // Releases the claim if Commit did not (a failed or abandoned change).
  ~SqlKeyIdChange() override {
    if (done_) return;
    (void)claim_.Run(absl::StrCat("UPDATE ", claim_.table_,
                                  " SET key_claim = '', key_claim_until = 0 "
                                  "WHERE id = $1 AND key_claim = $2"),
                     {claim_.id_, token_});
  }

  absl::StatusOr<int> Commit(const std::string& new_key_id) override {
    if (done_) return absl::FailedPreconditionError("key id change already committed");
    std::lock_guard<std::recursive_mutex> lock(claim_.mu_);
    VOLCRYPT_ASSIGN_OR_RETURN(auto tx, SqlTransaction::Begin(claim_.db_));
    const bool volume = claim_.kind_ == KeyHolderKind::kVolume;
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqlRows item,
        claim_.Run(absl::StrCat(
                       "UPDATE ", claim_.table_,
                       " SET encryption_key_id = $2, key_claim = '', "
                       "key_claim_until = 0",
                       volume ? ", updated_at = $5" : "",
                       " WHERE id = $1 AND key_claim = $3 AND encryption_key_id = $4"
                       " AND status NOT IN ('creating', 'deleting', 'managing', 'rekeying')"),
                   volume ? std::vector<SqlParam>{claim_.id_, new_key_id, token_,
                                                  old_key_id_, Now()}
                          : std::vector<SqlParam>{claim_.id_, new_key_id, token_,
                                                  old_key_id_}));
    if (item.changes == 0) return WhyNotCommitted();
    int snapshots = 0;
    if (volume) {
      VOLCRYPT_ASSIGN_OR_RETURN(
          SqlRows r, claim_.Run("UPDATE snapshots SET encryption_key_id = $2 "
                                "WHERE volume_id = $1 AND encryption_key_id = $3",
                                {claim_.id_, new_key_id, old_key_id_}));
      snapshots = static_cast<int>(r.changes);
    }
    VOLCRYPT_RETURN_IF_ERROR(tx->Commit());
    done_ = true;
    return snapshots;
  }

 private:
  absl::Status WhyNotCommitted() {
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqlRows r, claim_.Run(absl::StrCat("SELECT status, key_claim FROM ",
                                           claim_.table_, " WHERE id = $1"),
                              {claim_.id_}));
    const std::string noun = claim_.Noun();
    if (r.empty()) {
      return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                        absl::StrCat(noun, " was deleted while its key id "
                                           "changed; the new key id is not recorded"));
    }
    if (Owned(r.Text(0, 0))) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, EBUSY,
                        absl::StrCat(noun, " became ", r.Text(0, 0),
                                     " while its key id changed; the new key id "
                                     "is not recorded"));
    }
    return ErrnoError(absl::StatusCode::kFailedPrecondition, ESTALE,
                      absl::StrCat(noun, ": the key id change lock expired and "
                                         "another process took it; the new key "
                                         "id is not recorded"));
  }

  Claim claim_;
  const std::string old_key_id_;
  const std::string token_;
  bool done_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<KeyIdChange>> BeginSqlKeyIdChange(
    SqlConnection& db, std::recursive_mutex& mu, KeyHolderKind kind,
    const std::string& id, const std::string& expected_key_id,
    const KeyClaimOptions& options) {
  Claim claim(db, mu, kind, id);
  const std::string token = NewClaimToken();
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options.wait_ms);
  auto pause = std::chrono::milliseconds(20);
  for (;;) {
    const int64_t now = Now();
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqlRows taken,
        claim.Run(absl::StrCat("UPDATE ", claim.table_,
                               " SET key_claim = $2, key_claim_until = $3 "
                               "WHERE id = $1 AND encryption_key_id = $4 "
                               "AND status NOT IN ('creating', 'deleting', 'managing', 'rekeying') "
                               "AND (key_claim = '' OR key_claim_until < $5)"),
                  {id, token, now + options.lease_seconds, expected_key_id, now}));
    if (taken.changes > 0) {
      return std::unique_ptr<KeyIdChange>(
          new SqlKeyIdChange(std::move(claim), expected_key_id, token));
    }
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqlRows r,
        claim.Run(absl::StrCat("SELECT encryption_key_id, status, key_claim, "
                               "key_claim_until FROM ", claim.table_,
                               " WHERE id = $1"), {id}));
    if (r.empty()) {
      return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                        absl::StrCat(claim.Noun(), " not found"));
    }
    // A create or delete owns the key id until it ends (a delete has already
    // chosen the key it will delete).
    if (Owned(r.Text(0, 1))) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, EBUSY,
                        absl::StrCat(claim.Noun(), " is ", r.Text(0, 1)));
    }
    if (r.Text(0, 0) != expected_key_id) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, ESTALE,
                        absl::StrCat(claim.Noun(), " now uses key ",
                                     ShownId(r.Text(0, 0)), ", not ",
                                     ShownId(expected_key_id)));
    }
    const std::string holder = r.Text(0, 2);
    if (OwnerIsGone(holder)) {
      // Its owner was killed: end the claim now rather than at its lease.
      VOLCRYPT_RETURN_IF_ERROR(
          claim.Run(absl::StrCat("UPDATE ", claim.table_,
                                 " SET key_claim = '', key_claim_until = 0 "
                                 "WHERE id = $1 AND key_claim = $2"),
                    {id, holder}).status());
      continue;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return ErrnoError(
          absl::StatusCode::kUnavailable, EBUSY,
          absl::StrCat(claim.Noun(), ": another process holds its key id change "
                       "lock (", ShownId(holder), ", for up to ",
                       std::max<int64_t>(0, r.Int(0, 3) - now), " s more)"));
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
  }
}

}  // namespace volcrypt
