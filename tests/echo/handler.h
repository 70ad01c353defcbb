#pragma once
// A function that exercises every part of the runtime contract, driven by its event:
//   {}                                   returns the event and what the runtime told it
//   {"throw": "InvalidInput"|"std"|"int", "message": "..."}
//   {"sleep_ms": N}                      sleeps (timeouts, remaining time)
//   {"exit": N} / {"abort": true}        the process dies mid-invocation
//   {"response_bytes": N}                returns a string of N bytes
//   {"log": [{"level": "DEBUG", "message": "..."}]}
//   {"metrics": [{"name": "...", "unit": "Count", "value": 1}]}
// ECHO_FAIL_INIT=1 in the environment makes initialisation fail.
#include "runtime/runtime.h"

namespace tests::echo {

runtime::Handler make_handler();

}  // namespace tests::echo
