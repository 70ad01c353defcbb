#include "runtime/logging.h"

#include <unistd.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <string>

#include "runtime/clock.h"

namespace runtime::log {

namespace detail {
std::atomic<Level> threshold{Level::Info};
}  // namespace detail

namespace {

struct State {
  std::mutex mutex;
  Format format = Format::Text;
  int fd = 1;
  std::string request_id;
  std::string xray_trace_id;
  bool in_invocation = false;
  bool cold_start = false;
};

State& state() {
  static State instance;
  return instance;
}

void write_all(int fd, const std::string& line) {
  const char* data = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    const ssize_t written = ::write(fd, data, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      return;  // Nowhere left to report a failing log sink.
    }
    data += written;
    left -= static_cast<std::size_t>(written);
  }
}

char ascii_upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

}  // namespace

std::string_view level_name(Level level) {
  switch (level) {
    case Level::Trace:
      return "TRACE";
    case Level::Debug:
      return "DEBUG";
    case Level::Info:
      return "INFO";
    case Level::Warn:
      return "WARN";
    case Level::Error:
      return "ERROR";
    case Level::Fatal:
      return "FATAL";
    case Level::Off:
      return "OFF";
  }
  return "INFO";
}

bool parse_level(std::string_view text, Level& level) {
  std::string upper(text);
  for (char& c : upper) c = ascii_upper(c);
  static constexpr std::pair<std::string_view, Level> kNames[] = {
      {"TRACE", Level::Trace}, {"DEBUG", Level::Debug},   {"INFO", Level::Info},
      {"WARN", Level::Warn},   {"WARNING", Level::Warn},  {"ERROR", Level::Error},
      {"FATAL", Level::Fatal}, {"CRITICAL", Level::Fatal}};
  for (const auto& [name, value] : kNames) {
    if (upper == name) {
      level = value;
      return true;
    }
  }
  return false;
}

void configure_from_environment() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  const char* format = std::getenv("AWS_LAMBDA_LOG_FORMAT");
  s.format =
      (format != nullptr && std::string_view(format) == "JSON") ? Format::Json : Format::Text;

  Level level = Level::Info;
  const char* lambda_level = std::getenv("AWS_LAMBDA_LOG_LEVEL");
  const char* app_level = std::getenv("LOG_LEVEL");
  if (lambda_level == nullptr || !parse_level(lambda_level, level)) {
    if (app_level == nullptr || !parse_level(app_level, level)) level = Level::Info;
  }
  detail::threshold.store(level, std::memory_order_relaxed);
}

void set_output_fd(int fd) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.fd = fd;
}

std::string_view xray_root(std::string_view trace_header) {
  constexpr std::string_view kRoot = "Root=";
  std::size_t start = 0;
  while (start < trace_header.size()) {
    const std::size_t end = std::min(trace_header.find(';', start), trace_header.size());
    const std::string_view part = trace_header.substr(start, end - start);
    if (part.starts_with(kRoot)) return part.substr(kRoot.size());
    start = end + 1;
  }
  return {};
}

Level unfiltered_level() {
  return std::max(Level::Info, detail::threshold.load(std::memory_order_relaxed));
}

void set_invocation(std::string_view request_id, bool cold_start, std::string_view trace_header) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.request_id = request_id;
  s.xray_trace_id = xray_root(trace_header);
  s.in_invocation = true;
  s.cold_start = cold_start;
}

void clear_invocation() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.request_id.clear();
  s.xray_trace_id.clear();
  s.in_invocation = false;
}

namespace detail {

void emit(Level level, std::string_view message, boost::json::object fields) {
  const std::string timestamp = format_rfc3339_ms(std::chrono::system_clock::now());
  State& s = state();
  std::lock_guard lock(s.mutex);
  std::string line;
  if (s.format == Format::Json) {
    boost::json::object object;
    object.reserve(fields.size() + 5);
    object["timestamp"] = timestamp;
    object["level"] = level_name(level);
    object["message"] = message;
    if (s.in_invocation) {
      object["requestId"] = s.request_id;
      object["cold_start"] = s.cold_start;
      if (!s.xray_trace_id.empty()) object["xray_trace_id"] = s.xray_trace_id;
    }
    for (auto& field : fields) object[field.key()] = std::move(field.value());
    line = boost::json::serialize(object);
  } else {
    line.reserve(64 + message.size());
    line.append(timestamp).append("\t").append(level_name(level)).append("\t");
    line.append(s.in_invocation ? s.request_id : std::string("-")).append("\t").append(message);
    for (const auto& field : fields) {
      line.append(" ")
          .append(field.key())
          .append("=")
          .append(boost::json::serialize(field.value()));
    }
  }
  line.push_back('\n');
  write_all(s.fd, line);
}

void write_raw_line(std::string_view text) {
  std::string line(text);
  line.push_back('\n');
  State& s = state();
  std::lock_guard lock(s.mutex);
  write_all(s.fd, line);
}

}  // namespace detail

}  // namespace runtime::log
