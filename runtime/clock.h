#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace runtime {

// RFC 3339 in UTC with milliseconds: 2026-11-23T09:10:31.123Z
std::string format_rfc3339_ms(std::chrono::system_clock::time_point time);

std::int64_t epoch_ms(std::chrono::system_clock::time_point time);

}  // namespace runtime
