#pragma once
// When a handler must stop starting new work and hand back a continuation: the one place that
// decides it. The budget is the invocation's real deadline less DEADLINE_MARGIN_MS (default
// 30000), and never more than MAX_INVOCATION_MS from the start when that is set (the knob tests
// use to force several invocations).
#include <chrono>

#include "runtime/runtime.h"

namespace common {

class Deadline {
 public:
  explicit Deadline(const runtime::InvocationContext& context);
  // A deadline of `budget` from now (tests, tools).
  explicit Deadline(std::chrono::milliseconds budget);

  bool reached() const { return std::chrono::system_clock::now() >= stop_at_; }
  std::chrono::milliseconds remaining() const;

 private:
  std::chrono::system_clock::time_point stop_at_;
};

}  // namespace common
