// Early-return helpers for absl::Status, which Debian's Abseil 20220623 lacks.
#ifndef VOLCRYPT_LIB_UTIL_STATUS_MACROS_H_
#define VOLCRYPT_LIB_UTIL_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define VOLCRYPT_RETURN_IF_ERROR(expr)                    \
  do {                                                    \
    ::absl::Status volcrypt_status_ = (expr);             \
    if (!volcrypt_status_.ok()) return volcrypt_status_;  \
  } while (0)

#define VOLCRYPT_CONCAT_INNER_(a, b) a##b
#define VOLCRYPT_CONCAT_(a, b) VOLCRYPT_CONCAT_INNER_(a, b)

// `lhs = *expr` when the StatusOr `expr` is OK, else returns its status.
// `lhs` may declare a variable: VOLCRYPT_ASSIGN_OR_RETURN(auto x, Make());
#define VOLCRYPT_ASSIGN_OR_RETURN(lhs, expr) \
  VOLCRYPT_ASSIGN_OR_RETURN_IMPL_(           \
      VOLCRYPT_CONCAT_(volcrypt_statusor_, __LINE__), lhs, expr)

#define VOLCRYPT_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) return std::move(tmp).status();        \
  lhs = std::move(tmp).value()

#endif  // VOLCRYPT_LIB_UTIL_STATUS_MACROS_H_
