#pragma once
// Settings from the environment, the one place they are read. A function's setting is read once
// at initialisation, and a bad value is a runtime::ConfigurationError naming the variable, so a
// misconfigured stack fails before it does anything; the AWS core's tuning knobs (retries, HTTP
// timeouts, the deadline margin) are read leniently, a bad value leaving the default.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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
// "true" or "false" (any case), or `fallback` when unset or empty; ConfigurationError otherwise.
bool flag_setting(const char* name, bool fallback);
// A tuning knob: a whole number of at least `minimum`, nullopt when unset, empty or anything else.
std::optional<std::uint64_t> lenient_number(const char* name, std::uint64_t minimum = 0);

// Where in S3: a bucket and a key prefix (empty: the whole bucket).
struct S3Location {
  std::string bucket;
  std::string prefix;
  bool operator==(const S3Location&) const = default;
};
// "s3://bucket/prefix", "bucket/prefix" or "bucket"; nullopt for a bucket name S3 would refuse.
std::optional<S3Location> parse_s3_location(std::string_view text);
// A comma-separated list of "s3://bucket/prefix", "bucket/prefix" or "bucket"; ConfigurationError
// naming the variable and the item for a bucket name S3 would refuse ("s3:" never becomes one).
std::vector<S3Location> location_list_setting(const char* name);

// `text` without the white space around it.
std::string trimmed(std::string_view text);

}  // namespace common
