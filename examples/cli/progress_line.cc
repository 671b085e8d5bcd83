#include "examples/cli/progress_line.h"

#include <cstdio>

namespace volcrypt_cli {

void PrintProgressLine(const char* noun, int done, int total, double elapsed_seconds) {
  const double rate = elapsed_seconds > 0 ? done / elapsed_seconds : 0;
  const int left = rate > 0 ? static_cast<int>((total - done) / rate + 0.5) : 0;
  std::fprintf(stderr, "\r\033[K  %d/%d %s  %.1f/s  about %d:%02d left", done, total, noun,
               rate, left / 60, left % 60);
  if (done == total) std::fputc('\n', stderr);
  std::fflush(stderr);
}

}  // namespace volcrypt_cli
