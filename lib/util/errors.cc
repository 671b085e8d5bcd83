#include "volcrypt/errors.h"

#include <cerrno>
#include <cstdlib>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/types/optional.h"

namespace volcrypt {
namespace {

constexpr char kErrnoPayloadUrl[] = "type.volcrypt/errno";

// Abseil's table, with one deliberate difference: EIO is DataLoss, not
// Unknown. libcryptsetup, libblkid and the kernel report unreadable or
// damaged media and headers with EIO; DataLoss says that, and Unknown would
// tell a caller nothing.
absl::StatusCode CodeForErrno(int err) {
  if (err == EIO) return absl::StatusCode::kDataLoss;
  return absl::ErrnoToStatusCode(err);
}

// The one table from status codes to errno, for statuses born inside volcrypt.
int ErrnoForCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return 0;
    case absl::StatusCode::kCancelled: return ECANCELED;
    case absl::StatusCode::kInvalidArgument: return EINVAL;
    case absl::StatusCode::kDeadlineExceeded: return ETIMEDOUT;
    case absl::StatusCode::kNotFound: return ENOENT;
    case absl::StatusCode::kAlreadyExists: return EEXIST;
    case absl::StatusCode::kPermissionDenied: return EACCES;
    case absl::StatusCode::kUnauthenticated: return EPERM;
    case absl::StatusCode::kResourceExhausted: return ENOSPC;
    case absl::StatusCode::kFailedPrecondition: return EBUSY;
    case absl::StatusCode::kAborted: return ECANCELED;
    case absl::StatusCode::kOutOfRange: return EDOM;  // ERANGE is for caller buffers
    case absl::StatusCode::kUnimplemented: return ENOTSUP;
    case absl::StatusCode::kUnavailable: return EAGAIN;
    case absl::StatusCode::kDataLoss: return EIO;
    default: return EIO;
  }
}

}  // namespace

absl::Status ErrnoError(absl::StatusCode code, int err,
                        absl::string_view message) {
  absl::Status status(code, message);
  if (err < 0) err = -err;
  if (!status.ok() && err != 0) {
    status.SetPayload(kErrnoPayloadUrl, absl::Cord(std::to_string(err)));
  }
  return status;
}

absl::Status StatusFromErrno(int err, absl::string_view message) {
  if (err < 0) err = -err;
  return ErrnoError(CodeForErrno(err), err, message);
}

int ErrnoOf(const absl::Status& status) {
  if (status.ok()) return 0;
  absl::optional<absl::Cord> payload = status.GetPayload(kErrnoPayloadUrl);
  int err = 0;
  if (payload.has_value() &&
      absl::SimpleAtoi(std::string(*payload), &err) && err > 0) {
    return err;
  }
  return ErrnoForCode(status.code());
}

}  // namespace volcrypt
