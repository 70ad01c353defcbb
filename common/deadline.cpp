#include "common/deadline.h"

#include <algorithm>
#include <cstdlib>

namespace common {

namespace {

long long env_ms(const char* name, long long fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  char* end = nullptr;
  const long long parsed = std::strtoll(value, &end, 10);
  return (*end == '\0' && parsed >= 0) ? parsed : fallback;
}

}  // namespace

Deadline::Deadline(const runtime::InvocationContext& context) {
  const auto now = std::chrono::system_clock::now();
  stop_at_ = context.deadline - std::chrono::milliseconds(env_ms("DEADLINE_MARGIN_MS", 30000));
  const long long cap = env_ms("MAX_INVOCATION_MS", -1);
  if (cap >= 0) stop_at_ = std::min(stop_at_, now + std::chrono::milliseconds(cap));
}

Deadline::Deadline(std::chrono::milliseconds budget)
    : stop_at_(std::chrono::system_clock::now() + budget) {}

std::chrono::milliseconds Deadline::remaining() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(stop_at_ -
                                                               std::chrono::system_clock::now());
}

}  // namespace common
