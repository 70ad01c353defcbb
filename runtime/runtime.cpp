#include "runtime/runtime.h"

#include <curl/curl.h>
#include <cxxabi.h>
#include <malloc.h>

#include <cctype>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <typeinfo>
#include <variant>

#include "runtime/errors.h"
#include "runtime/logging.h"
#include "runtime/metrics.h"

namespace runtime {

namespace {

constexpr const char* kApiVersion = "/2018-06-01/runtime";

struct HttpResponse {
  long status = 0;
  std::string body;
  std::string request_id;
  std::string deadline_ms;
  std::string function_arn;
  std::string trace_id;
};

std::string demangled_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> name(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), &std::free);
  return (status == 0 && name) ? std::string(name.get()) : std::string(type.name());
}

std::string error_body(const ErrorReport& report) {
  return boost::json::serialize(boost::json::object{{"errorMessage", report.message},
                                                    {"errorType", report.type},
                                                    {"stackTrace", boost::json::array{}}});
}

// One easy handle for the whole life of the process, so the connection to the Runtime API is
// opened once and reused for every /next, /response and /error.
class RuntimeApiClient {
 public:
  explicit RuntimeApiClient(std::string endpoint)
      : base_url_("http://" + std::move(endpoint) + kApiVersion), curl_(curl_easy_init()) {
    if (curl_ == nullptr) throw std::runtime_error("curl_easy_init failed");
  }
  ~RuntimeApiClient() { curl_easy_cleanup(curl_); }
  RuntimeApiClient(const RuntimeApiClient&) = delete;
  RuntimeApiClient& operator=(const RuntimeApiClient&) = delete;

  // Blocks until Lambda hands over an invocation: no client timeout, since the sandbox may be
  // frozen for hours between invocations.
  std::optional<HttpResponse> next() { return perform("/invocation/next", nullptr, {}); }

  bool post_response(const std::string& request_id, const std::string& body) {
    return ok(perform("/invocation/" + request_id + "/response", &body, {}));
  }

  bool post_error(const std::string& path, const ErrorReport& report) {
    const std::string body = error_body(report);
    return ok(perform(path, &body, "Lambda-Runtime-Function-Error-Type: " + report.type));
  }

 private:
  static bool ok(const std::optional<HttpResponse>& response) {
    return response && response->status >= 200 && response->status < 300;
  }

  static size_t on_body(char* data, size_t size, size_t count, void* user) {
    static_cast<HttpResponse*>(user)->body.append(data, size * count);
    return size * count;
  }

  static size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto* response = static_cast<HttpResponse*>(user);
    std::string_view line(data, size * count);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name(line.substr(0, colon));
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
      while (!value.empty() &&
             (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
        value.remove_suffix(1);
      }
      if (name == "lambda-runtime-aws-request-id")
        response->request_id = value;
      else if (name == "lambda-runtime-deadline-ms")
        response->deadline_ms = value;
      else if (name == "lambda-runtime-invoked-function-arn")
        response->function_arn = value;
      else if (name == "lambda-runtime-trace-id")
        response->trace_id = value;
    }
    return size * count;
  }

  std::optional<HttpResponse> perform(const std::string& path, const std::string* body,
                                      const std::string& extra_header) {
    HttpResponse response;
    const std::string url = base_url_ + path;
    curl_easy_reset(curl_);  // keeps the connection cache, drops per-request options
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, 0L);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &RuntimeApiClient::on_body);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &RuntimeApiClient::on_header);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &response);
    curl_slist* headers = nullptr;
    // Without this curl waits up to a second for "100 Continue" before sending a large body.
    headers = curl_slist_append(headers, "Expect:");
    if (body != nullptr) {
      headers = curl_slist_append(headers, "Content-Type: application/json");
      curl_easy_setopt(curl_, CURLOPT_POST, 1L);
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body->data());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    }
    if (!extra_header.empty()) headers = curl_slist_append(headers, extra_header.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    const CURLcode code = curl_easy_perform(curl_);
    curl_slist_free_all(headers);
    if (code != CURLE_OK) {
      log::error("runtime API request failed", "path", path, "error", curl_easy_strerror(code));
      return std::nullopt;
    }
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &response.status);
    if (response.status >= 300) {
      log::error("runtime API refused a request", "path", path, "status", response.status);
    }
    return response;
  }

  std::string base_url_;
  CURL* curl_;
};

void set_trace_id(const std::string& trace_id) {
  if (trace_id.empty()) {
    unsetenv("_X_AMZN_TRACE_ID");
  } else {
    setenv("_X_AMZN_TRACE_ID", trace_id.c_str(), 1);
  }
}

std::chrono::system_clock::time_point parse_deadline(const std::string& deadline_ms) {
  char* end = nullptr;
  const long long ms = std::strtoll(deadline_ms.c_str(), &end, 10);
  if (deadline_ms.empty() || *end != '\0') {
    // Without a deadline the handler cannot plan continuations; assume Lambda's 15 minute cap.
    return std::chrono::system_clock::now() + std::chrono::minutes(15);
  }
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

// Runs the handler on one event; returns the serialized response or the error to report.
std::variant<std::string, ErrorReport> invoke(const Handler& handler, const HttpResponse& next,
                                              const InvocationContext& context,
                                              const ErrorNamer& name_error) {
  try {
    boost::system::error_code parse_error;
    boost::json::value event = boost::json::parse(next.body, parse_error);
    if (parse_error) throw InvalidInput("event is not valid JSON: " + parse_error.message());
    std::string body = boost::json::serialize(handler(event, context));
    if (body.size() > kMaxResponseBytes) {
      return ErrorReport{error_type::kResponseTooLarge,
                         "response is " + std::to_string(body.size()) +
                             " bytes; Lambda accepts at most " + std::to_string(kMaxResponseBytes)};
    }
    return body;
  } catch (...) {
    return describe_current_exception(name_error);
  }
}

}  // namespace

ErrorReport describe_current_exception(const ErrorNamer& name_error) {
  try {
    throw;
  } catch (const Error& error) {
    return {error.error_type(), error.what()};
  } catch (const std::exception& error) {
    if (name_error) {
      if (auto type = name_error(error)) return {std::move(*type), error.what()};
    }
    return {error_type::kUnhandledError, demangled_name(typeid(error)) + ": " + error.what()};
  } catch (...) {
    return {error_type::kUnhandledError, "non-standard exception"};
  }
}

int run(const HandlerFactory& make_handler, const ErrorNamer& name_error) {
  // Memory a function frees goes back to the system rather than stay fragmented in the heap, so
  // its peak does not grow with the work it has done. Buffers of 128 KiB and more (parts, ranges,
  // request bodies, vectors of an output's sources) are mapped and unmapped on their own: glibc
  // would otherwise raise its threshold to the largest buffer freed, after which they come from
  // the heap. One arena: the HTTP engine's thread allocates every response body and the handler's
  // thread frees it. CombineLogFiles on 30,000 files (three outputs) peaked at 67 MiB without
  // either, 55 MiB with a 1 MiB threshold, 49 MiB with one arena too and 47 MiB with the threshold
  // at 128 KiB, against 41 MiB for 10,000 (bench/combine_delete.py); its own reservations and
  // malloc_trim between outputs did the rest.
  mallopt(M_MMAP_THRESHOLD, 128 << 10);
  mallopt(M_ARENA_MAX, 1);
  log::configure_from_environment();
  metrics::configure_from_environment();
  const char* endpoint = std::getenv("AWS_LAMBDA_RUNTIME_API");
  if (endpoint == nullptr || *endpoint == '\0') {
    log::fatal(
        "AWS_LAMBDA_RUNTIME_API is not set: this program runs inside Lambda or lambda-local");
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  RuntimeApiClient api(endpoint);

  Handler handler;
  try {
    handler = make_handler();
  } catch (...) {
    const ErrorReport report = describe_current_exception(name_error);
    log::fatal("initialisation failed", "errorType", report.type, "errorMessage", report.message);
    api.post_error("/init/error", report);
    return 1;
  }

  bool cold_start = true;
  while (true) {
    const std::optional<HttpResponse> next = api.next();
    if (!next) return 1;
    if (next->status != 200 || next->request_id.empty()) {
      log::fatal("runtime API sent an unusable invocation", "status", next->status);
      return 1;
    }
    InvocationContext context{next->request_id, next->function_arn, next->trace_id,
                              parse_deadline(next->deadline_ms)};
    set_trace_id(context.trace_id);
    log::set_invocation(context.request_id, cold_start, context.trace_id);
    cold_start = false;

    auto outcome = invoke(handler, *next, context, name_error);
    metrics::flush();
    if (auto* body = std::get_if<std::string>(&outcome)) {
      api.post_response(context.request_id, *body);
    } else {
      const auto& report = std::get<ErrorReport>(outcome);
      log::error("invocation failed", "errorType", report.type, "errorMessage", report.message);
      api.post_error("/invocation/" + context.request_id + "/error", report);
    }
    log::clear_invocation();
  }
}

}  // namespace runtime
