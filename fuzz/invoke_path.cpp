// The Invoke API path and function identifier come straight off the network: any bytes must
// parse without crashing, and a decoded name never contains the path separator it was split on.
#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/emulator/function_config.h"
#include "runtime/emulator/invoke_api.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  if (const auto target =
          runtime::emulator::invocation_target("/2015-03-31/functions/" + input + "/invocations")) {
    const std::string name = runtime::emulator::function_name_from_identifier(*target);
    if (name.size() > target->size()) __builtin_trap();
  }
  runtime::emulator::function_name_from_identifier(input);
  return 0;
}
