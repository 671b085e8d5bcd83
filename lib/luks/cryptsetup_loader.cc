#include "lib/luks/cryptsetup_loader.h"

#include <libcryptsetup.h>

#include <cerrno>

#include "lib/util/lazy_library.h"

namespace volcrypt {
namespace luks {
namespace {

// Every libcryptsetup 2.x has this soname (meson.build asks for >= 2.4).
LazyLibrary& Library() {
  static LazyLibrary lib("libcryptsetup.so.12");
  return lib;
}

// The real function `name`, of type F, or nullptr if the library or the
// symbol is missing.
template <typename F>
F Resolve(const char* name) {
  return Library().Resolve<F>(name);
}

}  // namespace

std::string CryptsetupLoadError() { return Library().error(); }

}  // namespace luks
}  // namespace volcrypt

// Each forwarder looks its target up once (a function-local static).
#define VOLCRYPT_FORWARD(name, fail, ...)                                        \
  static const auto real =                                                      \
      volcrypt::luks::Resolve<decltype(&::name)>(#name);                        \
  if (real == nullptr) return fail;                                             \
  return real(__VA_ARGS__)

extern "C" {

int crypt_init(struct crypt_device** cd, const char* device) {
  VOLCRYPT_FORWARD(crypt_init, -ELIBACC, cd, device);
}
void crypt_free(struct crypt_device* cd) {
  static const auto real = volcrypt::luks::Resolve<decltype(&::crypt_free)>("crypt_free");
  if (real != nullptr) real(cd);
}
void crypt_set_log_callback(struct crypt_device* cd,
                            void (*log)(int level, const char* msg, void* usrptr),
                            void* usrptr) {
  static const auto real =
      volcrypt::luks::Resolve<decltype(&::crypt_set_log_callback)>("crypt_set_log_callback");
  if (real != nullptr) real(cd, log, usrptr);
}
int crypt_load(struct crypt_device* cd, const char* requested_type, void* params) {
  VOLCRYPT_FORWARD(crypt_load, -ELIBACC, cd, requested_type, params);
}
int crypt_format(struct crypt_device* cd, const char* type, const char* cipher,
                 const char* cipher_mode, const char* uuid, const char* volume_key,
                 size_t volume_key_size, void* params) {
  VOLCRYPT_FORWARD(crypt_format, -ELIBACC, cd, type, cipher, cipher_mode, uuid, volume_key,
                   volume_key_size, params);
}
int crypt_activate_by_passphrase(struct crypt_device* cd, const char* name, int keyslot,
                                 const char* passphrase, size_t passphrase_size,
                                 uint32_t flags) {
  VOLCRYPT_FORWARD(crypt_activate_by_passphrase, -ELIBACC, cd, name, keyslot, passphrase,
                   passphrase_size, flags);
}
int crypt_dump_json(struct crypt_device* cd, const char** json, uint32_t flags) {
  VOLCRYPT_FORWARD(crypt_dump_json, -ELIBACC, cd, json, flags);
}
const char* crypt_get_cipher(struct crypt_device* cd) {
  VOLCRYPT_FORWARD(crypt_get_cipher, nullptr, cd);
}
const char* crypt_get_cipher_mode(struct crypt_device* cd) {
  VOLCRYPT_FORWARD(crypt_get_cipher_mode, nullptr, cd);
}
uint64_t crypt_get_data_offset(struct crypt_device* cd) {
  VOLCRYPT_FORWARD(crypt_get_data_offset, 0, cd);
}
int crypt_get_metadata_size(struct crypt_device* cd, uint64_t* metadata_size,
                            uint64_t* keyslots_size) {
  VOLCRYPT_FORWARD(crypt_get_metadata_size, -ELIBACC, cd, metadata_size, keyslots_size);
}
const struct crypt_pbkdf_type* crypt_get_pbkdf_default(const char* type) {
  VOLCRYPT_FORWARD(crypt_get_pbkdf_default, nullptr, type);
}
int crypt_get_sector_size(struct crypt_device* cd) {
  VOLCRYPT_FORWARD(crypt_get_sector_size, -ELIBACC, cd);
}
const char* crypt_get_type(struct crypt_device* cd) {
  VOLCRYPT_FORWARD(crypt_get_type, nullptr, cd);
}
const char* crypt_get_uuid(struct crypt_device* cd) {
  VOLCRYPT_FORWARD(crypt_get_uuid, nullptr, cd);
}
int crypt_get_volume_key_size(struct crypt_device* cd) {
  VOLCRYPT_FORWARD(crypt_get_volume_key_size, -ELIBACC, cd);
}
int crypt_keyslot_add_by_passphrase(struct crypt_device* cd, int keyslot,
                                    const char* passphrase, size_t passphrase_size,
                                    const char* new_passphrase, size_t new_passphrase_size) {
  VOLCRYPT_FORWARD(crypt_keyslot_add_by_passphrase, -ELIBACC, cd, keyslot, passphrase,
                   passphrase_size, new_passphrase, new_passphrase_size);
}
int crypt_keyslot_add_by_volume_key(struct crypt_device* cd, int keyslot,
                                    const char* volume_key, size_t volume_key_size,
                                    const char* passphrase, size_t passphrase_size) {
  VOLCRYPT_FORWARD(crypt_keyslot_add_by_volume_key, -ELIBACC, cd, keyslot, volume_key,
                   volume_key_size, passphrase, passphrase_size);
}
int crypt_keyslot_area(struct crypt_device* cd, int keyslot, uint64_t* offset,
                       uint64_t* length) {
  VOLCRYPT_FORWARD(crypt_keyslot_area, -ELIBACC, cd, keyslot, offset, length);
}
int crypt_keyslot_change_by_passphrase(struct crypt_device* cd, int keyslot_old,
                                       int keyslot_new, const char* passphrase,
                                       size_t passphrase_size, const char* new_passphrase,
                                       size_t new_passphrase_size) {
  VOLCRYPT_FORWARD(crypt_keyslot_change_by_passphrase, -ELIBACC, cd, keyslot_old,
                   keyslot_new, passphrase, passphrase_size, new_passphrase,
                   new_passphrase_size);
}
int crypt_keyslot_destroy(struct crypt_device* cd, int keyslot) {
  VOLCRYPT_FORWARD(crypt_keyslot_destroy, -ELIBACC, cd, keyslot);
}
int crypt_keyslot_get_pbkdf(struct crypt_device* cd, int keyslot,
                            struct crypt_pbkdf_type* pbkdf) {
  VOLCRYPT_FORWARD(crypt_keyslot_get_pbkdf, -ELIBACC, cd, keyslot, pbkdf);
}
int crypt_keyslot_max(const char* type) { VOLCRYPT_FORWARD(crypt_keyslot_max, -ELIBACC, type); }
crypt_keyslot_info crypt_keyslot_status(struct crypt_device* cd, int keyslot) {
  VOLCRYPT_FORWARD(crypt_keyslot_status, CRYPT_SLOT_INVALID, cd, keyslot);
}
int crypt_set_data_offset(struct crypt_device* cd, uint64_t data_offset) {
  VOLCRYPT_FORWARD(crypt_set_data_offset, -ELIBACC, cd, data_offset);
}
int crypt_set_metadata_size(struct crypt_device* cd, uint64_t metadata_size,
                            uint64_t keyslots_size) {
  VOLCRYPT_FORWARD(crypt_set_metadata_size, -ELIBACC, cd, metadata_size, keyslots_size);
}
int crypt_set_pbkdf_type(struct crypt_device* cd, const struct crypt_pbkdf_type* pbkdf) {
  VOLCRYPT_FORWARD(crypt_set_pbkdf_type, -ELIBACC, cd, pbkdf);
}
int crypt_volume_key_get(struct crypt_device* cd, int keyslot, char* volume_key,
                         size_t* volume_key_size, const char* passphrase,
                         size_t passphrase_size) {
  VOLCRYPT_FORWARD(crypt_volume_key_get, -ELIBACC, cd, keyslot, volume_key, volume_key_size,
                   passphrase, passphrase_size);
}

}  // extern "C"
