// The end state every adversarial scenario must leave, checked from outside
// (the CLI, the key directory, libvirt's own API), whatever happened before:
//  - `volume list` works and every available or in-use record's volume
//    verifies with its key (`volume verify ID`);
//  - no record is left in a step that nothing finishes, once reconcile ran;
//  - no key file in the state's keys/ without a record (file key manager);
//  - no libvirt secret with a /volcrypt/ usage, and no disk, that no record
//    explains, and every in-use record's disk is really in a domain;
//  - files someone else owns are byte-identical.
#ifndef VOLCRYPT_TESTS_ADVERSARIAL_END_STATE_H_
#define VOLCRYPT_TESTS_ADVERSARIAL_END_STATE_H_

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/adversarial/adversary.h"

namespace volcrypt {
namespace testing {

struct EndState {
  const Operator* op = nullptr;  // whose records (volume list, verify)
  // The file key manager's directory ("" when keys live elsewhere).
  std::string keys_dir;
  // The private libvirtd ("" when the scenario has none).
  std::string libvirt_uri;
  // Reconcile ran: no record may be in a non-final status.
  bool settled = true;
  // Files another record or person owns: path -> the content they must keep.
  std::map<std::string, std::string> foreign_files;
};

// `volume list` of `op` as JSON records; a failure (and an empty list) if
// the command fails or does not print a JSON array.
std::vector<nlohmann::json> ListRecords(const Operator& op);

// Adds one gtest failure per broken promise, each naming the promise.
void ExpectEndState(const EndState& state);

}  // namespace testing
}  // namespace volcrypt

#endif  // VOLCRYPT_TESTS_ADVERSARIAL_END_STATE_H_
