#include "lib/copy/payload_copier.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <vector>

#include <openssl/crypto.h>

#include "absl/strings/str_cat.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace {

uint32_t SectorOf(const PayloadEnd& e) { return e.cipher ? e.cipher->sector_size() : 512; }

// A buffer wiped on release: it holds plaintext.
struct Buffer {
  explicit Buffer(size_t n) : bytes(n) {}
  ~Buffer() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
  std::vector<uint8_t> bytes;
};

// Runs `op(piece, len, payload_offset)` over [0, len) of `buf` in up to
// `threads` sector-aligned pieces at once.
absl::Status Split(int threads, uint8_t* buf, size_t len, uint64_t off, uint32_t sector,
                   const std::function<absl::Status(uint8_t*, size_t, uint64_t)>& op) {
  const size_t sectors = len / sector;
  if (threads < 2 || sectors < 2 * 64) return op(buf, len, off);
  const size_t first = (sectors / 2) * sector;
  std::future<absl::Status> other = std::async(
      std::launch::async, [&] { return op(buf + first, len - first, off + first); });
  absl::Status mine = op(buf, first, off);
  absl::Status theirs = other.get();
  return mine.ok() ? theirs : mine;
}

// Reads payload [off, off+len) of `e` as plaintext into `buf`.
absl::Status ReadPlain(const PayloadEnd& e, int threads, uint8_t* buf, size_t len,
                       uint64_t off) {
  VOLCRYPT_RETURN_IF_ERROR(e.volume->Read(e.payload_offset + off, buf, len));
  if (e.cipher == nullptr) return absl::OkStatus();
  return Split(threads, buf, len, off, e.cipher->sector_size(),
               [&](uint8_t* p, size_t n, uint64_t o) { return e.cipher->Decrypt(p, n, o); });
}

// Whether the source's holes must be written: they read as zeros in a
// plain source, and the destination would not read them as zeros.
bool FillsHoles(const PayloadEnd& from, const PayloadEnd& to) {
  return from.cipher == nullptr && to.cipher != nullptr;
}

absl::Status CheckEnds(const PayloadEnd& from, const PayloadEnd& to, uint64_t payload) {
  for (const PayloadEnd* e : {&from, &to}) {
    if (e->volume == nullptr || e->volume->size() < e->payload_offset ||
        e->volume->size() - e->payload_offset < payload) {
      return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                        absl::StrCat("a ", e == &from ? "source" : "destination",
                                     " volume cannot hold ", payload, " payload bytes"));
    }
  }
  const uint32_t align = std::max(SectorOf(from), SectorOf(to));
  if (payload % align != 0) {
    return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                      absl::StrCat("payload of ", payload, " bytes is not a multiple of the ",
                                   align, "-byte encryption sector"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CopyPayload(const PayloadEnd& from, const PayloadEnd& to,
                         const CopyOptions& o) {
  VOLCRYPT_RETURN_IF_ERROR(CheckEnds(from, to, o.payload_bytes));
  const uint64_t align = std::max(SectorOf(from), SectorOf(to));
  uint64_t want = o.chunk_bytes;
  if (o.bandwidth != 0) want = std::min(want, std::max<uint64_t>(1u << 20, o.bandwidth / 4));
  const uint64_t chunk = std::max<uint64_t>(align, want / align * align);
  Buffer buf(chunk);
  Throttle throttle(o.bandwidth, o.clock);
  uint64_t done = std::min(o.start_at / align * align, o.payload_bytes);
  uint64_t journaled = done;
  auto last = std::chrono::steady_clock::now();
  auto journal = [&](uint64_t through) -> absl::Status {
    VOLCRYPT_RETURN_IF_ERROR(to.volume->Sync());
    journaled = through;
    last = std::chrono::steady_clock::now();
    return o.journal ? o.journal(through) : absl::OkStatus();
  };
  // Copies [start, end); a hole's zeros are encrypted without reading it.
  auto copy_range = [&](uint64_t start, uint64_t end, bool hole) -> absl::Status {
    for (uint64_t pos = start; pos < end; pos += chunk) {
      const size_t n = static_cast<size_t>(std::min(chunk, end - pos));
      if (hole) {
        std::memset(buf.bytes.data(), 0, n);
      } else {
        VOLCRYPT_RETURN_IF_ERROR(ReadPlain(from, o.threads, buf.bytes.data(), n, pos));
      }
      if (to.cipher != nullptr) {
        VOLCRYPT_RETURN_IF_ERROR(Split(o.threads, buf.bytes.data(), n, pos, align,
                                       [&](uint8_t* p, size_t len, uint64_t off) {
                                         return to.cipher->Encrypt(p, len, off);
                                       }));
      }
      VOLCRYPT_RETURN_IF_ERROR(to.volume->Write(to.payload_offset + pos, buf.bytes.data(), n));
      done = pos + n;
      throttle.Wrote(n);
      if (done - journaled >= o.journal_every ||
          std::chrono::steady_clock::now() - last >= std::chrono::seconds(5)) {
        VOLCRYPT_RETURN_IF_ERROR(journal(done));
      }
      if (o.progress) o.progress(done, o.payload_bytes);
    }
    return absl::OkStatus();
  };
  const bool fill = FillsHoles(from, to);
  // The hole [done, start) before the next data (or the end).
  auto pass_hole = [&](uint64_t start) -> absl::Status {
    if (fill && done < start) return copy_range(done, start, /*hole=*/true);
    done = std::max(done, start);
    if (o.progress) o.progress(done, o.payload_bytes);
    return absl::OkStatus();
  };
  VOLCRYPT_RETURN_IF_ERROR(from.volume->ForEachDataExtent(
      from.payload_offset + done, o.payload_bytes - done,
      [&](uint64_t raw_off, uint64_t raw_len) -> absl::Status {
        // To payload offsets, widened to whole sectors of both ends.
        uint64_t start = (raw_off - from.payload_offset) / align * align;
        uint64_t end = raw_off - from.payload_offset + raw_len;
        end = std::min(o.payload_bytes, (end + align - 1) / align * align);
        start = std::max(start, done);
        if (start >= end) return absl::OkStatus();
        absl::Status hole = pass_hole(start);
        return hole.ok() ? copy_range(start, end, /*hole=*/false) : hole;
      }));
  VOLCRYPT_RETURN_IF_ERROR(pass_hole(o.payload_bytes));
  VOLCRYPT_RETURN_IF_ERROR(journal(done));
  if (o.progress) o.progress(done, o.payload_bytes);
  return absl::OkStatus();
}

absl::Status VerifyPayload(const PayloadEnd& from, const PayloadEnd& to,
                           uint64_t payload_bytes, int samples) {
  VOLCRYPT_RETURN_IF_ERROR(CheckEnds(from, to, payload_bytes));
  const uint64_t align = std::max(SectorOf(from), SectorOf(to));
  constexpr uint64_t kSample = 64 << 10;
  // Samples lie inside the source's data extents (widened to whole
  // sectors, as the copy widens them), and inside its holes too where the
  // copy wrote them (a quarter as many).
  std::vector<std::pair<uint64_t, uint64_t>> extents, holes;
  uint64_t seen = 0;
  auto hole_until = [&](uint64_t start) {
    if (holes.size() < 4096 && seen < start) holes.emplace_back(seen, start - seen);
  };
  VOLCRYPT_RETURN_IF_ERROR(from.volume->ForEachDataExtent(
      from.payload_offset, payload_bytes, [&](uint64_t raw_off, uint64_t raw_len) {
        const uint64_t start = (raw_off - from.payload_offset) / align * align;
        const uint64_t end = std::min(
            payload_bytes, (raw_off - from.payload_offset + raw_len + align - 1) / align * align);
        if (start < end) {
          hole_until(start);
          seen = std::max(seen, end);
          if (extents.size() < 4096) extents.emplace_back(start, end - start);
        }
        return absl::OkStatus();
      }));
  hole_until(payload_bytes);
  if (!FillsHoles(from, to)) holes.clear();
  std::vector<std::pair<uint64_t, uint64_t>> at;
  auto pick = [&](const std::vector<std::pair<uint64_t, uint64_t>>& from_list, int count) {
    const size_t n = from_list.size();
    const size_t want = std::min(n, static_cast<size_t>(std::max(count, 1)));
    for (size_t i = 0; i < want; ++i) at.push_back(from_list[i * n / want]);
  };
  pick(extents, samples);
  pick(holes, samples / 4);
  const size_t n = extents.size();
  if (n > 0) {  // the end of the last extent
    const auto& last = extents.back();
    const uint64_t len = std::min(kSample, last.second);
    at.emplace_back(last.first + last.second - len, len);
  }
  Buffer a(kSample), b(kSample);
  for (const auto& [off, extent_len] : at) {
    const size_t len = static_cast<size_t>(std::min<uint64_t>(kSample, extent_len));
    VOLCRYPT_RETURN_IF_ERROR(ReadPlain(from, 1, a.bytes.data(), len, off));
    VOLCRYPT_RETURN_IF_ERROR(ReadPlain(to, 1, b.bytes.data(), len, off));
    if (std::memcmp(a.bytes.data(), b.bytes.data(), len) != 0) {
      return ErrnoError(absl::StatusCode::kDataLoss, EIO,
                        absl::StrCat("the copy differs from its source near payload byte ",
                                     off));
    }
  }
  return absl::OkStatus();
}

}  // namespace volcrypt
