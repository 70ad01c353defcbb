#include "tests/echo/handler.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "runtime/errors.h"
#include "runtime/logging.h"
#include "runtime/metrics.h"

namespace tests::echo {

namespace {

runtime::metrics::Unit parse_unit(std::string_view unit) {
  if (unit == "Bytes") return runtime::metrics::Unit::Bytes;
  if (unit == "Milliseconds") return runtime::metrics::Unit::Milliseconds;
  return runtime::metrics::Unit::Count;
}

boost::json::value handle(const boost::json::value& event,
                          const runtime::InvocationContext& context) {
  if (!event.is_object()) throw runtime::InvalidInput("event must be a JSON object");
  const auto& request = event.get_object();

  if (const auto* entries = request.if_contains("log")) {
    for (const auto& entry : entries->as_array()) {
      runtime::log::Level level = runtime::log::Level::Info;
      runtime::log::parse_level(entry.at("level").as_string(), level);
      runtime::log::write(level, entry.at("message").as_string(), "source", "echo");
    }
  }
  if (const auto* metrics = request.if_contains("metrics")) {
    for (const auto& metric : metrics->as_array()) {
      runtime::metrics::add(metric.at("name").as_string(),
                            parse_unit(metric.at("unit").as_string()),
                            metric.at("value").to_number<double>());
    }
  }
  // {"arrive": FILE, "wait_for": FILE}: creates the first, then waits (up to the invocation's
  // deadline) until the second exists: a barrier the test opens once every invocation arrived.
  if (const auto* arrive = request.if_contains("arrive")) {
    std::ofstream(std::string(arrive->as_string())) << getpid();
    const std::string gate(request.at("wait_for").as_string());
    while (!std::filesystem::exists(gate) && context.remaining_time().count() > 100)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (const auto* sleep_ms = request.if_contains("sleep_ms")) {
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms->to_number<long long>()));
  }
  if (const auto* code = request.if_contains("exit"))
    std::_Exit(static_cast<int>(code->to_number<int>()));
  if (request.contains("abort")) std::abort();
  if (const auto* kind = request.if_contains("throw")) {
    const std::string message = request.contains("message")
                                    ? std::string(request.at("message").as_string())
                                    : std::string("requested failure");
    if (*kind == "InvalidInput") throw runtime::InvalidInput(message);
    if (*kind == "int") throw 42;
    throw std::out_of_range(message);
  }
  if (const auto* bytes = request.if_contains("response_bytes")) {
    return boost::json::string(static_cast<std::size_t>(bytes->to_number<long long>()), 'x');
  }

  const char* trace = std::getenv("_X_AMZN_TRACE_ID");
  return boost::json::object{
      {"event", event},
      {"request_id", context.request_id},
      {"function_arn", context.invoked_function_arn},
      {"trace_id", context.trace_id},
      {"env_trace_id", trace != nullptr ? boost::json::value(trace) : boost::json::value(nullptr)},
      {"remaining_ms", context.remaining_time().count()},
      {"deadline_ms",
       std::chrono::duration_cast<std::chrono::milliseconds>(context.deadline.time_since_epoch())
           .count()},
      {"pid", static_cast<std::int64_t>(getpid())}};
}

}  // namespace

runtime::Handler make_handler() {
  const char* fail = std::getenv("ECHO_FAIL_INIT");
  if (fail != nullptr && std::string_view(fail) == "1") {
    throw runtime::ConfigurationError("ECHO_FAIL_INIT is set");
  }
  return handle;
}

}  // namespace tests::echo
