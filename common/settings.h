#pragma once
// Function settings from the environment, read once at initialisation. A bad value is a
// runtime::ConfigurationError naming the variable, so a misconfigured stack fails before it does
// anything. (The HTTP engine and the deadline read their tuning knobs leniently on their own.)
#include <cstdint>
#include <string>
#include <vector>

namespace common {

// The value, or `fallback` when the variable is unset (a variable set to "" stays "").
std::string setting(const char* name, const std::string& fallback = "");
// The value; ConfigurationError when unset or empty.
std::string required_setting(const char* name);
// A comma-separated list, items trimmed, empty items dropped.
std::vector<std::string> list_setting(const char* name);
// A whole number of at least `minimum`, or `fallback` when unset or empty.
std::uint64_t number_setting(const char* name, std::uint64_t fallback, std::uint64_t minimum = 1);

}  // namespace common
