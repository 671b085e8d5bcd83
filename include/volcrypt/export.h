// File: volcrypt/export.h
// -----------------------------------------------------------------------------
// The shared library is built with hidden visibility; VOLCRYPT_EXPORT marks
// the declarations that form its C++ API.
#ifndef VOLCRYPT_EXPORT_H_
#define VOLCRYPT_EXPORT_H_

#define VOLCRYPT_EXPORT __attribute__((visibility("default")))

#endif  // VOLCRYPT_EXPORT_H_
