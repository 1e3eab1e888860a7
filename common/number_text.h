// Numbers and times as people read them, the same in every command and in the web view. Pure;
// thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace kevo {

std::string fmt_num(double v, int significant = 4);  // 5.123, 0.01831, 1.2e-05, 128; "nan"
std::string fmt_int(int64_t v);                      // 1,234,567
std::string fmt_usd(double v);                       // $4.12, $0.0041
std::string fmt_time(double unix_seconds);           // 2025-11-22 09:00:12 UTC; "-" for 0

}  // namespace kevo
