// The kill matrix harness (issue #11): a flow is run once undisturbed by
// adversarial_crash_child to learn its steps, then once per step in a fresh
// state directory, SIGKILLed just before that step; each time the real CLI
// then reconciles, and the end state (end_state.h) plus the scenario's own
// expectations are checked. One Ceph cluster and one libvirtd serve the
// whole program.
#ifndef VOLCRYPT_TESTS_ADVERSARIAL_CRASH_HARNESS_H_
#define VOLCRYPT_TESTS_ADVERSARIAL_CRASH_HARNESS_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/adversarial/adversary.h"
#include "tests/adversarial/end_state.h"
#include "tests/support/test_support.h"

namespace volcrypt {
namespace testing {

// The libvirt secret (usage 'ceph') holding client.admin's cephx key.
extern const char kCephSecretUuid[];
constexpr char kCrashHost[] = "crash-host";
constexpr char kPool[] = "rbd";

// One state directory: the CLI over it, and the child over it.
class Scene {
 public:
  // Without `ceph`, neither the CLI nor the child connects to the cluster
  // (each connection costs every command time).
  explicit Scene(const std::string& dir, bool ceph = true);
  const std::string& dir() const { return dir_; }
  const Operator& op() const { return *op_; }
  // adversarial_crash_child over this state, killed before step `kill_at`
  // (0: never).
  Outcome Child(int kill_at, const std::vector<std::string>& args) const;
  // The same, asserting success.
  void MustRun(const std::vector<std::string>& args) const;
  // `reconcile --grace 0`, asserting it succeeds.
  void Reconcile() const;
  EndState End() const;
  // The records, by id.
  std::map<std::string, nlohmann::json> Records() const;
  // Ids of the snapshot records of `volume`, read from the store itself
  // (the CLI does not list them).
  std::vector<std::string> SnapshotRecords(const std::string& volume) const;

 private:
  std::string dir_;
  bool ceph_;
  std::unique_ptr<Operator> op_;
};

// Images of pool kPool whose name starts with `prefix`.
std::vector<std::string> ImagesWithPrefix(const std::string& prefix);
// Snapshot names of kPool/`image`.
std::vector<std::string> SnapshotsOf(const std::string& image);

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Whether the next KillAtEveryStep's scenes need Ceph.
  bool ceph_ = true;
  // The first step killed, for a flow whose earlier steps another matrix
  // kills already (1: all).
  size_t first_step_ = 1;
  // For the trace run and for k = 1..steps: a fresh Scene, `setup` in it,
  // then the child running `flow` (SIGKILLed before step k), `recover`
  // (default: reconcile), the end state and `check`. Returns the steps.
  std::vector<std::string> KillAtEveryStep(
      const std::string& name,
      const std::function<void(const Scene&, const std::string& tag)>& setup,
      const std::function<std::vector<std::string>(const std::string& tag)>& flow,
      const std::function<void(const Scene&, const std::string& tag)>& check,
      const std::function<void(const Scene&)>& recover = nullptr);

  TempDir tmp_;
};

}  // namespace testing
}  // namespace volcrypt

#endif  // VOLCRYPT_TESTS_ADVERSARIAL_CRASH_HARNESS_H_
