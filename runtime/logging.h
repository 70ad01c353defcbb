#pragma once
// Structured logging as Lambda's advanced logging controls define it. Configured from
// AWS_LAMBDA_LOG_FORMAT (JSON|Text) and AWS_LAMBDA_LOG_LEVEL, falling back to LOG_LEVEL.
// Lines below the threshold return after one integer comparison: no formatting, no allocation.
//
//   runtime::log::info("combined output", "files", 120, "bytes", 5242880);
#include <atomic>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace runtime::log {

enum class Level : std::uint8_t { Trace, Debug, Info, Warn, Error, Fatal, Off };
enum class Format : std::uint8_t { Text, Json };

std::string_view level_name(Level level);
// Accepts TRACE/DEBUG/INFO/WARN/WARNING/ERROR/FATAL in any case; false for anything else.
bool parse_level(std::string_view text, Level& level);

namespace detail {
extern std::atomic<Level> threshold;
void emit(Level level, std::string_view message, boost::json::object fields);
// Writes one line as is (EMF metrics must not be wrapped in a log envelope).
void write_raw_line(std::string_view line);

inline void add_fields(boost::json::object&) {}
template <typename Value, typename... Rest>
void add_fields(boost::json::object& fields, std::string_view key, Value&& value, Rest&&... rest) {
  fields[key] = boost::json::value_from(std::forward<Value>(value));
  add_fields(fields, std::forward<Rest>(rest)...);
}
}  // namespace detail

inline bool enabled(Level level) {
  return level >= detail::threshold.load(std::memory_order_relaxed);
}

// Key/value pairs after the message become fields (JSON) or `key=value` (Text).
template <typename... Fields>
void write(Level level, std::string_view message, Fields&&... fields) {
  static_assert(sizeof...(Fields) % 2 == 0, "log fields come in key, value pairs");
  if (!enabled(level)) return;
  boost::json::object object;
  detail::add_fields(object, std::forward<Fields>(fields)...);
  detail::emit(level, message, std::move(object));
}

template <typename... F>
void trace(std::string_view m, F&&... f) {
  write(Level::Trace, m, std::forward<F>(f)...);
}
template <typename... F>
void debug(std::string_view m, F&&... f) {
  write(Level::Debug, m, std::forward<F>(f)...);
}
template <typename... F>
void info(std::string_view m, F&&... f) {
  write(Level::Info, m, std::forward<F>(f)...);
}
template <typename... F>
void warn(std::string_view m, F&&... f) {
  write(Level::Warn, m, std::forward<F>(f)...);
}
template <typename... F>
void error(std::string_view m, F&&... f) {
  write(Level::Error, m, std::forward<F>(f)...);
}
template <typename... F>
void fatal(std::string_view m, F&&... f) {
  write(Level::Fatal, m, std::forward<F>(f)...);
}

// Reads the environment again (the runtime calls it at start; tests call it after setenv).
void configure_from_environment();
// Output goes to this file descriptor (default 1, stdout, which Lambda ships to CloudWatch).
void set_output_fd(int fd);

// Per-invocation context the runtime sets: request id, whether this is the cold start, and the
// X-Ray trace header Lambda sent (JSON lines carry its Root as `xray_trace_id`, as Powertools
// writes it, so a log line leads to its trace).
void set_invocation(std::string_view request_id, bool cold_start,
                    std::string_view trace_header = {});
// The Root of an X-Ray trace header ("Root=1-...;Parent=...;Sampled=1"); empty when it has none.
std::string_view xray_root(std::string_view trace_header);
// The level to give a line that must pass Lambda's log-level filter whatever the threshold (EMF
// metrics): Lambda takes a JSON line without a level as INFO and drops it under WARN or higher.
Level unfiltered_level();
void clear_invocation();

}  // namespace runtime::log
