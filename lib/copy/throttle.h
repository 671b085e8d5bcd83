// A bandwidth cap for the offline copy (ConvertVolumeRequest::bandwidth):
// after each chunk written, the copier waits until the data written so far
// could not have been written faster than the cap since the copy began.
// Only what is written counts: holes left as holes cost nothing, holes
// written as encrypted zeros count like data. The clock is an interface so
// that a test can check the waits against a fake time instead of asserting
// wall time.
#ifndef VOLCRYPT_LIB_COPY_THROTTLE_H_
#define VOLCRYPT_LIB_COPY_THROTTLE_H_

#include <chrono>
#include <cstdint>

namespace volcrypt {

class PaceClock {
 public:
  virtual ~PaceClock() = default;
  virtual std::chrono::nanoseconds Now() = 0;
  virtual void SleepFor(std::chrono::nanoseconds d) = 0;
};

// The steady clock and std::this_thread::sleep_for.
PaceClock& SteadyPaceClock();

// How long to wait after `bytes` were written in `elapsed`, at most
// `bytes_per_second` (0: never).
std::chrono::nanoseconds PaceDelay(uint64_t bytes, std::chrono::nanoseconds elapsed,
                                   uint64_t bytes_per_second);

class Throttle {
 public:
  // `clock` nullptr: SteadyPaceClock().
  Throttle(uint64_t bytes_per_second, PaceClock* clock);
  // Counts `bytes` written and waits as PaceDelay says.
  void Wrote(uint64_t bytes);

 private:
  uint64_t rate_;
  PaceClock* clock_;
  std::chrono::nanoseconds start_;
  uint64_t bytes_ = 0;
};

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_COPY_THROTTLE_H_
