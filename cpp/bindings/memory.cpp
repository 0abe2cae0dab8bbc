// The memory check of the bindings: a call that would need more memory than the machine has
// raises MemoryError before any work (bindings.hpp).
#include <algorithm>
#include <cstdio>
#include <limits>
#include <string>

#include "bindings.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <sys/resource.h>
#include <unistd.h>
#endif

namespace isoinit::bind {

double available_memory() {
  double bytes = std::numeric_limits<double>::infinity();
#if defined(__unix__) || defined(__APPLE__)
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page > 0) bytes = static_cast<double>(pages) * static_cast<double>(page);
  rlimit lim{};
  if (getrlimit(RLIMIT_AS, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
    bytes = std::min(bytes, static_cast<double>(lim.rlim_cur));
#endif
  return bytes;
}

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  int u = 0;
  while (bytes >= 1000 && u < 6) {
    bytes /= 1000;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

void require_memory(double total, const std::string& what) {
  const double have = available_memory();
  if (total <= have) return;
  throw MemoryLimitError(what + " (about " + format_bytes(total) + " in all); this machine has " + format_bytes(have) +
                         " of memory");
}

}  // namespace isoinit::bind
