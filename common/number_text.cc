#include "common/number_text.h"

#include <cmath>
#include <cstdio>
#include <ctime>

namespace kevo {

std::string fmt_num(double v, int significant) {
  if (std::isnan(v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*g", significant, v);
  return buf;
}

std::string fmt_int(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

std::string fmt_usd(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), v != 0 && std::fabs(v) < 0.1 ? "$%.4f" : "$%.2f", v);
  return buf;
}

std::string fmt_time(double unix_seconds) {
  if (unix_seconds <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

}  // namespace kevo
