// Copies a volume's payload (what the guest sees) from one raw volume to
// another, decrypting the source with its own volume key where it has one
// and encrypting with the destination's, in large chunks, the crypto split
// over two threads. Only the source's data extents are read (SEEK_DATA,
// rbd_diff_iterate2). What a hole becomes depends on what the guest saw:
//   - a plain source's hole reads as zeros, and guests rely on that (a
//     cloud image's zeroed inode tables and journal are holes in its raw
//     file), so an encrypted destination gets those zeros encrypted, as
//     cinder's dd and QEMU's mirror write them;
//   - an encrypted source's hole decrypts to bytes nobody wrote, so it
//     stays a hole (unpredictable bytes, as in any new encrypted volume);
//   - a plaintext destination's hole already reads as zeros.
//
// Resumable: the journal callback is called with how far (in payload bytes)
// everything before is on the destination and synced; a rerun passes that
// back as start_at.
#ifndef VOLCRYPT_LIB_COPY_PAYLOAD_COPIER_H_
#define VOLCRYPT_LIB_COPY_PAYLOAD_COPIER_H_

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "lib/copy/raw_volume.h"
#include "lib/copy/throttle.h"
#include "lib/copy/xts_cipher.h"

namespace volcrypt {

// One side of a copy.
struct PayloadEnd {
  RawVolume* volume = nullptr;
  uint64_t payload_offset = 0;       // where the payload starts on the volume
  const XtsCipher* cipher = nullptr;  // nullptr: the payload is plaintext
};

struct CopyOptions {
  uint64_t payload_bytes = 0;
  uint64_t start_at = 0;  // payload bytes already copied (the journal)
  uint64_t chunk_bytes = 8u << 20;
  uint64_t journal_every = 256u << 20;  // or every 5 s, whichever first
  // Called after the destination is synced through `copied` payload bytes;
  // an error stops the copy.
  std::function<absl::Status(uint64_t copied)> journal;
  // Payload bytes dealt with (copied or skipped as holes) and the total.
  std::function<void(uint64_t done, uint64_t total)> progress;
  int threads = 2;  // for the crypto
  // Bytes per second written at most (0: unlimited; throttle.h); chunks
  // shrink to a quarter second's worth (at least 1 MiB) so that it paces
  // smoothly. `clock`: nullptr for the real one.
  uint64_t bandwidth = 0;
  PaceClock* clock = nullptr;
};

// InvalidArgument if the ends cannot hold the payload or are misaligned.
absl::Status CopyPayload(const PayloadEnd& from, const PayloadEnd& to,
                         const CopyOptions& options);

// Compares the plaintext of both ends at up to `samples` places spread over
// the source's data (64 KiB each, plus the payload's last 64 KiB).
// DataLoss naming the first payload offset that differs.
absl::Status VerifyPayload(const PayloadEnd& from, const PayloadEnd& to,
                           uint64_t payload_bytes, int samples);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_COPY_PAYLOAD_COPIER_H_
