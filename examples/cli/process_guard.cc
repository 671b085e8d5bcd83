#include "examples/cli/process_guard.h"

#include <poll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>

namespace volcrypt_cli {

void GuardProcess() {
  // Both only fail on kernels volcrypt does not support; carry on then.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  std::signal(SIGPIPE, SIG_IGN);
}

int FinishOutput(int code) {
  errno = 0;
  std::cout.flush();
  const bool failed =
      std::cout.fail() || std::fflush(stdout) != 0 || std::ferror(stdout);
  if (!failed) return code;
  int err = errno;
  if (err == 0) {
    // The failed write was an earlier flush (std::endl) and its errno is
    // gone; a pipe whose reader left still says so.
    pollfd p = {STDOUT_FILENO, POLLOUT, 0};
    if (poll(&p, 1, 0) == 1 && (p.revents & POLLERR) != 0) err = EPIPE;
  }
  std::fprintf(stderr, "volcrypt: cannot write standard output: %s\n",
               err != 0 ? std::strerror(err) : "write error");
  return code != 0 ? code : 1;
}

}  // namespace volcrypt_cli
