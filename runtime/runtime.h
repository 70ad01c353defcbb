#pragma once
// A custom runtime for AWS Lambda: the Runtime API client loop. It knows nothing of what the
// handler does; a function's main() is `return runtime::run(make_handler);`.
#include <boost/json/value.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>

namespace runtime {

// Lambda refuses synchronous responses above this many bytes (the figure its own error names).
inline constexpr std::size_t kMaxResponseBytes = 6291556;

struct InvocationContext {
  std::string request_id;
  std::string invoked_function_arn;
  std::string trace_id;  // empty when Lambda sent none
  std::chrono::system_clock::time_point deadline;

  std::chrono::milliseconds remaining_time() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                 std::chrono::system_clock::now());
  }
};

using Handler =
    std::function<boost::json::value(const boost::json::value& event, const InvocationContext&)>;

// Builds the handler once per sandbox (clients, configuration). An exception here is reported
// to /runtime/init/error and the process exits non-zero.
using HandlerFactory = std::function<Handler()>;

// The errorType of an exception that is not a runtime::Error (an AWS error, say), or nullopt for
// one it does not know (reported as UnhandledError). The runtime knows nothing of AWS: a
// function's main() passes the namer of the layers it is built on.
using ErrorNamer = std::function<std::optional<std::string>(const std::exception&)>;

// What the runtime reports for a failed invocation: errorType and errorMessage.
struct ErrorReport {
  std::string type;
  std::string message;
};
// The report of the exception being handled (call it inside a catch block): a runtime::Error's
// own name, then `name_error`'s, else UnhandledError.
ErrorReport describe_current_exception(const ErrorNamer& name_error = {});

// Runs until the Runtime API goes away. Returns the process exit code.
int run(const HandlerFactory& make_handler, const ErrorNamer& name_error = {});

}  // namespace runtime
