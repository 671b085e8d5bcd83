// GoogleTest main that tells meson "skipped" (exit 77) when every test that
// ran was skipped for a missing precondition, instead of a silent pass.
#include <gtest/gtest.h>

namespace {

class SkipCounter : public ::testing::EmptyTestEventListener {
 public:
  void OnTestEnd(const ::testing::TestInfo& info) override {
    ++ran_;
    if (info.result()->Skipped()) ++skipped_;
  }
  bool AllSkipped() const { return ran_ > 0 && skipped_ == ran_; }

 private:
  int ran_ = 0;
  int skipped_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  auto* counter = new SkipCounter;  // owned by GoogleTest
  ::testing::UnitTest::GetInstance()->listeners().Append(counter);
  const int rc = RUN_ALL_TESTS();
  if (rc == 0 && counter->AllSkipped()) return 77;
  return rc;
}
