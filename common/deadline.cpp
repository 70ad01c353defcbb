#include "common/deadline.h"

#include <algorithm>
#include <cstdlib>

#include "common/settings.h"

namespace common {

Deadline::Deadline(const runtime::InvocationContext& context) {
  const auto now = std::chrono::system_clock::now();
  const auto margin = lenient_number("DEADLINE_MARGIN_MS").value_or(30000);
  stop_at_ = context.deadline - std::chrono::milliseconds(margin);
  if (const auto cap = lenient_number("MAX_INVOCATION_MS"))
    stop_at_ = std::min(stop_at_, now + std::chrono::milliseconds(*cap));
}

Deadline::Deadline(std::chrono::milliseconds budget)
    : stop_at_(std::chrono::system_clock::now() + budget) {}

std::chrono::milliseconds Deadline::remaining() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(stop_at_ -
                                                               std::chrono::system_clock::now());
}

}  // namespace common
