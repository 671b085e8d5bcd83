#include "lib/copy/throttle.h"

#include <thread>

namespace volcrypt {
namespace {

class Steady : public PaceClock {
 public:
  std::chrono::nanoseconds Now() override {
    return std::chrono::steady_clock::now().time_since_epoch();
  }
  void SleepFor(std::chrono::nanoseconds d) override { std::this_thread::sleep_for(d); }
};

}  // namespace

PaceClock& SteadyPaceClock() {
  static Steady* clock = new Steady;
  return *clock;
}

std::chrono::nanoseconds PaceDelay(uint64_t bytes, std::chrono::nanoseconds elapsed,
                                   uint64_t bytes_per_second) {
  if (bytes_per_second == 0) return std::chrono::nanoseconds(0);
  // Whole seconds and the rest apart: bytes * 1e9 overflows past 18 GB.
  const uint64_t secs = bytes / bytes_per_second;
  const uint64_t rest_ns = (bytes % bytes_per_second) * 1000000000ull / bytes_per_second;
  const std::chrono::nanoseconds due = std::chrono::seconds(secs) +
                                       std::chrono::nanoseconds(rest_ns);
  return due > elapsed ? due - elapsed : std::chrono::nanoseconds(0);
}

Throttle::Throttle(uint64_t bytes_per_second, PaceClock* clock)
    : rate_(bytes_per_second), clock_(clock != nullptr ? clock : &SteadyPaceClock()),
      start_(clock_->Now()) {}

void Throttle::Wrote(uint64_t bytes) {
  if (rate_ == 0) return;
  bytes_ += bytes;
  const std::chrono::nanoseconds wait = PaceDelay(bytes_, clock_->Now() - start_, rate_);
  if (wait.count() > 0) clock_->SleepFor(wait);
}

}  // namespace volcrypt
