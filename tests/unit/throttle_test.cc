// The offline copy's bandwidth cap (lib/copy/throttle.h) against a fake
// clock: the waits it asks for, never the wall time.
#include "lib/copy/throttle.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lib/copy/payload_copier.h"
#include "tests/support/test_support.h"

namespace volcrypt {
namespace {

using std::chrono::nanoseconds;
using std::chrono::seconds;

// Time moves only when the code under test sleeps, plus `work` per Now().
class FakeClock : public PaceClock {
 public:
  nanoseconds Now() override { return now_ += work; }
  void SleepFor(nanoseconds d) override {
    now_ += d;
    slept += d;
    ++sleeps;
  }
  nanoseconds work{0};
  nanoseconds slept{0};
  int sleeps = 0;

 private:
  nanoseconds now_{0};
};

TEST(PaceDelayTest, WaitsUntilTheBytesFitTheRate) {
  EXPECT_EQ(PaceDelay(8 << 20, nanoseconds(0), 4 << 20), seconds(2));
  EXPECT_EQ(PaceDelay(8 << 20, seconds(1), 4 << 20), seconds(1));
  EXPECT_EQ(PaceDelay(8 << 20, seconds(3), 4 << 20), nanoseconds(0));
  EXPECT_EQ(PaceDelay(1 << 20, nanoseconds(0), 4 << 20), std::chrono::milliseconds(250));
  EXPECT_EQ(PaceDelay(uint64_t{1} << 40, nanoseconds(0), 0), nanoseconds(0));
  // No overflow far past 18 GB.
  EXPECT_EQ(PaceDelay(uint64_t{100} << 40, nanoseconds(0), uint64_t{1} << 30),
            seconds(102400));
}

TEST(ThrottleTest, UnlimitedNeverWaitsAndACapWaitsForEveryByteWritten) {
  FakeClock clock;
  Throttle none(0, &clock);
  none.Wrote(1 << 30);
  EXPECT_EQ(clock.sleeps, 0);
  Throttle capped(1 << 20, &clock);
  for (int i = 0; i < 10; ++i) capped.Wrote(512 << 10);
  EXPECT_EQ(clock.slept, seconds(5));
  // Time spent working counts against the waits.
  FakeClock busy;
  busy.work = std::chrono::milliseconds(100);
  Throttle slow(1 << 20, &busy);
  for (int i = 0; i < 10; ++i) slow.Wrote(512 << 10);
  EXPECT_LT(busy.slept, seconds(5));
  EXPECT_GT(busy.slept, seconds(3));
}

// The copier paces the data it writes (holes are free) and still copies it.
TEST(ThrottleTest, TheCopierPacesItsDataWritesOnly) {
  testing::TempDir tmp;
  const std::string src = tmp.File("src"), dst = tmp.File("dst");
  testing::MakeSparseFile(src, 64 << 20);
  testing::MakeSparseFile(dst, 64 << 20);
  const std::string data(8 << 20, 'x');
  const int fd = open(src.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, data.data(), data.size(), 16 << 20), static_cast<ssize_t>(data.size()));
  close(fd);
  auto from = OpenRawFile(src, false).value();
  auto to = OpenRawFile(dst, true).value();
  FakeClock clock;
  CopyOptions o;
  o.payload_bytes = 64 << 20;
  o.bandwidth = 4 << 20;
  o.clock = &clock;
  ASSERT_TRUE(CopyPayload({from.get(), 0, nullptr}, {to.get(), 0, nullptr}, o).ok());
  EXPECT_EQ(clock.slept, seconds(2));  // 8 MiB of data at 4 MiB/s
  EXPECT_GE(clock.sleeps, 8);           // in chunks of 1 MiB, not one burst
  ASSERT_TRUE(VerifyPayload({from.get(), 0, nullptr}, {to.get(), 0, nullptr}, 64 << 20, 16).ok());
}

}  // namespace
}  // namespace volcrypt
