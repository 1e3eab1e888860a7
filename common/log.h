// Logging: spdlog to stderr (human progress stays on stdout) and, once a run directory exists,
// to <run-dir>/kevo.log as well. Thread-safe after init.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

#include "common/status.h"

namespace kevo {

// Sets up the stderr sink at `level` ("trace", "debug", "info", "warn", "error", "off").
Status init_logging(const std::string& level);

// Adds a file sink at debug level (the file keeps more detail than the terminal).
Status add_log_file(const std::string& path);

}  // namespace kevo
