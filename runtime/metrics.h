#pragma once
// CloudWatch Embedded Metric Format, in the shape Powertools for AWS Lambda emits:
//   {"_aws":{"Timestamp":<ms>,"CloudWatchMetrics":[{"Namespace":"...","Dimensions":[["service"]],
//    "Metrics":[{"Name":"FilesCombined","Unit":"Count"}]}]},"service":"...","FilesCombined":12}
// Namespace from POWERTOOLS_METRICS_NAMESPACE, the `service` dimension from
// POWERTOOLS_SERVICE_NAME (else the function name). Values added under one name are summed until
// the next flush, so a counter bumped from many threads costs one entry, not one per bump. The
// runtime flushes after every invocation; a line carries at most 100 metrics, as EMF allows.
#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace runtime::metrics {

enum class Unit : std::uint8_t { Count, Bytes, Milliseconds, Seconds, Percent, None };
std::string_view unit_name(Unit unit);

inline constexpr std::size_t kMaxMetricsPerLine = 100;

// Thread-safe.
void add(std::string_view name, Unit unit, double value);

// Renders the pending metrics as EMF lines (each a JSON object) and clears them.
std::vector<boost::json::object> take_lines();
// take_lines(), each written as one line to the log output.
void flush();

void configure_from_environment();

}  // namespace runtime::metrics
