#include "runtime/metrics.h"

#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <mutex>

#include "runtime/clock.h"
#include "runtime/logging.h"

namespace runtime::metrics {

namespace {

struct Entry {
  std::string name;
  Unit unit;
  double value;
};

struct State {
  std::mutex mutex;
  std::string name_space = "S3LogAggregator";
  std::string service = "service_undefined";
  std::vector<Entry> entries;  // few distinct names per function: a linear scan beats a map
};

State& state() {
  static State instance;
  return instance;
}

std::string env_or(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return (value != nullptr && *value != '\0') ? std::string(value) : std::move(fallback);
}

boost::json::value as_json_number(double value) {
  // Whole numbers stay integers so counters read as 12, not 12.0.
  if (value == static_cast<double>(static_cast<std::int64_t>(value))) {
    return static_cast<std::int64_t>(value);
  }
  return value;
}

}  // namespace

std::string_view unit_name(Unit unit) {
  switch (unit) {
    case Unit::Count:
      return "Count";
    case Unit::Bytes:
      return "Bytes";
    case Unit::Milliseconds:
      return "Milliseconds";
    case Unit::Seconds:
      return "Seconds";
    case Unit::Percent:
      return "Percent";
    case Unit::None:
      return "None";
  }
  return "None";
}

void configure_from_environment() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.name_space = env_or("POWERTOOLS_METRICS_NAMESPACE", "S3LogAggregator");
  s.service =
      env_or("POWERTOOLS_SERVICE_NAME", env_or("AWS_LAMBDA_FUNCTION_NAME", "service_undefined"));
}

void add(std::string_view name, Unit unit, double value) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  for (Entry& entry : s.entries) {
    if (entry.name == name) {
      entry.value += value;
      return;
    }
  }
  s.entries.push_back(Entry{std::string(name), unit, value});
}

std::vector<boost::json::object> take_lines() {
  State& s = state();
  std::vector<Entry> entries;
  std::string name_space;
  std::string service;
  {
    std::lock_guard lock(s.mutex);
    entries.swap(s.entries);
    name_space = s.name_space;
    service = s.service;
  }

  std::vector<boost::json::object> lines;
  const std::int64_t timestamp = epoch_ms(std::chrono::system_clock::now());
  for (std::size_t start = 0; start < entries.size(); start += kMaxMetricsPerLine) {
    const std::size_t end = std::min(entries.size(), start + kMaxMetricsPerLine);
    boost::json::array definitions;
    boost::json::object line;
    for (std::size_t i = start; i < end; ++i) {
      definitions.push_back({{"Name", entries[i].name}, {"Unit", unit_name(entries[i].unit)}});
    }
    line["_aws"] = {
        {"Timestamp", timestamp},
        {"CloudWatchMetrics", boost::json::array{boost::json::object{
                                  {"Namespace", name_space},
                                  {"Dimensions", boost::json::array{boost::json::array{"service"}}},
                                  {"Metrics", std::move(definitions)}}}}};
    line["service"] = service;
    line["level"] = log::level_name(log::unfiltered_level());
    for (std::size_t i = start; i < end; ++i) {
      line[entries[i].name] = as_json_number(entries[i].value);
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

void flush() {
  for (const auto& line : take_lines()) log::detail::write_raw_line(boost::json::serialize(line));
}

}  // namespace runtime::metrics
