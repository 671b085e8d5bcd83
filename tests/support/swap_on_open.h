// Runs a test's action at the very moment the code under test opens a path:
// another process's rename landing between a check and the open, on cue.
// Linking swap_on_open.cc into a test binary interposes open() and openat()
// for the whole process (the library's calls resolve to the executable's
// definitions first); unarmed, they only forward to the C library.
#ifndef VOLCRYPT_TESTS_SUPPORT_SWAP_ON_OPEN_H_
#define VOLCRYPT_TESTS_SUPPORT_SWAP_ON_OPEN_H_

#include <functional>
#include <string>

namespace volcrypt {
namespace testing {

// Runs `work` once, just before the first open()/openat() whose path ends in
// "/" + `base` or is `base` itself. Returns nothing; FiredSwaps() tells
// whether it ran.
void SwapOnNextOpen(const std::string& base, std::function<void()> work);
int FiredSwaps();

}  // namespace testing
}  // namespace volcrypt

#endif  // VOLCRYPT_TESTS_SUPPORT_SWAP_ON_OPEN_H_
