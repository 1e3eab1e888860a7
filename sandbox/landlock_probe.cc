#include "sandbox/sandbox.h"

#include <linux/landlock.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace kevo {

int landlock_abi_version() {
#ifdef SYS_landlock_create_ruleset
  long v = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return v > 0 ? static_cast<int>(v) : 0;
#else
  return 0;
#endif
}

}  // namespace kevo
