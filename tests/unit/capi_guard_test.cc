// No exception crosses the C ABI: the guard every entry point runs in turns
// them into -errno and a message. (Injected here: no C-callable path can
// make the C++ layers throw on cue.)
#include "capi/c_status.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <stdexcept>

namespace volcrypt {
namespace {

TEST(CapiGuardTest, ExceptionsBecomeErrnoAndAMessage) {
  char* err = nullptr;
  EXPECT_EQ(capi::Guard(&err, []() -> int { throw std::runtime_error("boom"); }), -EIO);
  ASSERT_NE(err, nullptr);
  EXPECT_STREQ(err, "internal error: boom");
  std::free(err);
  EXPECT_EQ(capi::Guard(nullptr, []() -> int { throw std::bad_alloc(); }), -ENOMEM);
  EXPECT_EQ(capi::Guard(nullptr, []() -> int { throw 42; }), -EIO);
  EXPECT_EQ(capi::Guard(nullptr, [] { return 0; }), 0);
}

TEST(CapiGuardTest, StatusesKeepTheirErrno) {
  char* err = nullptr;
  EXPECT_EQ(capi::FromStatus(ErrnoError(absl::StatusCode::kPermissionDenied, EPERM, "no"), &err),
            -EPERM);
  EXPECT_STREQ(err, "no");
  std::free(err);
  EXPECT_EQ(capi::FromStatus(absl::NotFoundError("x"), nullptr), -ENOENT);
}

}  // namespace
}  // namespace volcrypt
