#include "volcrypt/errors.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace volcrypt {
namespace {

TEST(ErrorsTest, ErrnoErrorKeepsTheOriginalErrno) {
  absl::Status s = ErrnoError(absl::StatusCode::kFailedPrecondition, EEXIST,
                              "already holds ext4");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrnoOf(s), EEXIST);
}

TEST(ErrorsTest, StatusFromErrnoChoosesTheCode) {
  EXPECT_EQ(StatusFromErrno(-ENOENT, "x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(StatusFromErrno(EEXIST, "x").code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(StatusFromErrno(EROFS, "x").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoOf(StatusFromErrno(-EROFS, "x")), EROFS);
  EXPECT_EQ(StatusFromErrno(ETIMEDOUT, "x").code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(ErrorsTest, ErrnoOfMapsStatusesWithoutPayload) {
  EXPECT_EQ(ErrnoOf(absl::OkStatus()), 0);
  EXPECT_EQ(ErrnoOf(absl::NotFoundError("x")), ENOENT);
  EXPECT_EQ(ErrnoOf(absl::InvalidArgumentError("x")), EINVAL);
  EXPECT_EQ(ErrnoOf(absl::UnavailableError("x")), EAGAIN);
  EXPECT_EQ(ErrnoOf(absl::PermissionDeniedError("x")), EACCES);
}

}  // namespace
}  // namespace volcrypt
