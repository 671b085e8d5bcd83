// File: volcrypt/export.h
// -----------------------------------------------------------------------------
// VOLCRYPT_EXPORT marks the declarations that form the C++ API (shipped as
// the static libvolcrypt-cxx.a; the shared libvolcrypt.so exports only the C
// ABI of volcrypt.h). Objects are compiled with hidden visibility, so a
// shared build of the C++ API would export exactly these.
#ifndef VOLCRYPT_EXPORT_H_
#define VOLCRYPT_EXPORT_H_

#define VOLCRYPT_EXPORT __attribute__((visibility("default")))

#endif  // VOLCRYPT_EXPORT_H_
