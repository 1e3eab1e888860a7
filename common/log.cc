#include "common/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace kevo {

Status init_logging(const std::string& level) {
  spdlog::level::level_enum lvl = spdlog::level::from_str(level);
  // from_str maps unknown names to "off"; only accept a real name.
  if (lvl == spdlog::level::off && level != "off") {
    return Status::InvalidArgument("unknown log level '" + level +
                                   "' (use trace, debug, info, warn, error or off)");
  }
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  sink->set_level(lvl);
  auto logger = std::make_shared<spdlog::logger>("kevo", sink);
  logger->set_level(spdlog::level::trace);  // sinks filter
  logger->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

Status add_log_file(const std::string& path) {
  try {
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
    sink->set_level(spdlog::level::debug);
    sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] [pid %P] %v");
    spdlog::default_logger()->sinks().push_back(sink);
  } catch (const spdlog::spdlog_ex& e) {
    return Status::IoError("cannot open log file '" + path + "': " + e.what());
  }
  return Status::Ok();
}

}  // namespace kevo
