// Whether this kernel offers Landlock (filesystem confinement for unprivileged processes).
#pragma once

namespace kevo {

// The highest Landlock ABI the running kernel supports, or 0 when it has none (old kernel, or
// Landlock left out of the LSM list at boot).
int landlock_abi_version();

}  // namespace kevo
