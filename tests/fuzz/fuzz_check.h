// What every fuzz target shares: FUZZ_CHECK, for the few properties a target
// asserts beyond "no crash, no undefined behaviour, no leak" (which the
// sanitizers and libFuzzer check by themselves).
#ifndef VOLCRYPT_TESTS_FUZZ_FUZZ_CHECK_H_
#define VOLCRYPT_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

// Aborts (a crash libFuzzer reports, with the input saved) unless `cond`.
#define FUZZ_CHECK(cond)                                                  \
  do {                                                                    \
    if (!(cond)) {                                                        \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__,    \
                   __LINE__, #cond);                                      \
      std::abort();                                                       \
    }                                                                     \
  } while (0)

#endif  // VOLCRYPT_TESTS_FUZZ_FUZZ_CHECK_H_
