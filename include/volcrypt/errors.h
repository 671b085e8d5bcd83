// File: volcrypt/errors.h
// -----------------------------------------------------------------------------
// volcrypt reports failures as absl::Status. When a failure comes from a
// library that speaks errno (libcryptsetup, librbd, libc), the original errno
// travels with the status as a payload so that the C ABI can return it
// exactly; otherwise one table maps each status code to an errno.
//
//   absl::Status s = volcrypt::ErrnoError(absl::StatusCode::kNotFound, ENOENT,
//                                         "open /dev/loop7");
//   int e = volcrypt::ErrnoOf(s);  // ENOENT
#ifndef VOLCRYPT_ERRORS_H_
#define VOLCRYPT_ERRORS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace volcrypt {

// Returns a status with `code` and `message` that remembers `err` (a positive
// errno value) for ErrnoOf().
absl::Status ErrnoError(absl::StatusCode code, int err,
                        absl::string_view message);

// Returns a status for errno `err` (positive or negative), choosing the status
// code as absl::ErrnoToStatusCode does (ENOENT -> NotFound, EEXIST ->
// AlreadyExists, EACCES/EPERM/EROFS -> PermissionDenied, ENOTDIR and EBUSY ->
// FailedPrecondition, ...), except that EIO is DataLoss: it is how
// libcryptsetup and the kernel report unreadable or damaged media.
absl::Status StatusFromErrno(int err, absl::string_view message);

// Returns the positive errno recorded in `status`, or the errno that the
// status code maps to if none was recorded, or 0 for OK.
int ErrnoOf(const absl::Status& status);

}  // namespace volcrypt

#endif  // VOLCRYPT_ERRORS_H_
