#include "lib/util/host_name.h"

#include <unistd.h>

namespace volcrypt {

std::string SystemHostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

}  // namespace volcrypt
