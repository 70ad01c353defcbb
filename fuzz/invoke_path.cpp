// The Invoke API path and the function identifier in it come straight off the network:
// - a path is taken only as /2015-03-31/functions/{one segment}/invocations[?query], and the
//   identifier is that segment, decoded;
// - the name read from an identifier is a piece of it, and "name:qualifier" gives the name alone.
#include <cstddef>
#include <cstdint>
#include <string>

#include "devtools/lambda_local/function_config.h"
#include "devtools/lambda_local/invoke_api.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::string prefix = "/2015-03-31/functions/", suffix = "/invocations";
  const auto target = devtools::invocation_target(input);
  const std::string path = input.substr(0, input.find('?'));
  const bool shaped =
      path.size() > prefix.size() + suffix.size() && path.starts_with(prefix) &&
      path.ends_with(suffix) &&
      path.substr(prefix.size(), path.size() - prefix.size() - suffix.size()).find('/') ==
          std::string::npos;
  if (target.has_value() != shaped) __builtin_trap();

  const std::string name = devtools::function_name_from_identifier(input);
  if (input.find(name) == std::string::npos) __builtin_trap();
  std::size_t colons = 0;
  for (char c : input) colons += c == ':';
  if (colons == 1 && name != input.substr(0, input.find(':'))) __builtin_trap();
  return 0;
}
