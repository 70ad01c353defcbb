#include "runtime/emulator/invoke_api.h"

#include <boost/asio/connect.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/serialize.hpp>
#include <limits>
#include <stdexcept>

#include "runtime/runtime.h"

namespace runtime::emulator {

namespace {

constexpr std::string_view kFunctionsPrefix = "/2015-03-31/functions/";
constexpr std::string_view kInvocationsSuffix = "/invocations";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high >= 0 && low >= 0) {
        decoded.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    decoded.push_back(text[i]);
  }
  return decoded;
}

Response service_error(const Request& request, http::status status, std::string_view type,
                       const std::string& message) {
  Response response = make_response(
      status, request,
      boost::json::serialize(boost::json::object{{"Type", "User"}, {"message", message}}));
  response.set("x-amzn-ErrorType", type);
  return response;
}

}  // namespace

FunctionPool::FunctionPool(FunctionConfig function, SandboxOptions options)
    : function_(std::move(function)), options_(std::move(options)) {}

InvokeResult FunctionPool::invoke(const std::string& payload,
                                  const std::optional<std::string>& trace_id) {
  Sandbox* sandbox = nullptr;
  {
    std::unique_lock lock(mutex_);
    released_.wait(lock, [&] {
      return !idle_.empty() ||
             sandboxes_.size() < static_cast<std::size_t>(function_.max_concurrency);
    });
    if (!idle_.empty()) {
      sandbox = idle_.back();
      idle_.pop_back();
    } else {
      sandboxes_.push_back(std::make_unique<Sandbox>(function_, options_));
      sandbox = sandboxes_.back().get();
    }
  }
  InvokeResult result = sandbox->invoke(payload, trace_id);
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(sandbox);
  }
  released_.notify_one();
  return result;
}

Upstream parse_upstream(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme))
    throw std::invalid_argument("upstream must be http://host:port: " + url);
  std::string rest = url.substr(kScheme.size());
  if (const auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) {
    throw std::invalid_argument("upstream must name a port: " + url);
  }
  return Upstream{rest.substr(0, colon), rest.substr(colon + 1)};
}

std::optional<std::string> invocation_target(std::string_view path) {
  if (const auto query = path.find('?'); query != std::string_view::npos)
    path = path.substr(0, query);
  if (!path.starts_with(kFunctionsPrefix) || !path.ends_with(kInvocationsSuffix))
    return std::nullopt;
  path.remove_prefix(kFunctionsPrefix.size());
  path.remove_suffix(kInvocationsSuffix.size());
  if (path.empty() || path.find('/') != std::string_view::npos) return std::nullopt;
  return percent_decode(path);
}

InvokeApiServer::InvokeApiServer(EmulatorConfig config, std::optional<Upstream> upstream,
                                 SandboxOptions options, std::uint16_t port, std::string host)
    : config_(std::move(config)), upstream_(std::move(upstream)) {
  options.region = config_.region;
  options.account_id = config_.account_id;
  for (const auto& [name, function] : config_.functions) {
    pools_[name] = std::make_unique<FunctionPool>(function, options);
  }
  server_ = std::make_unique<HttpServer>(
      port, [this](tcp::socket& socket) { serve(socket); }, std::move(host));
}

InvokeApiServer::~InvokeApiServer() {
  stop();
}

void InvokeApiServer::stop() {
  server_->stop();
  std::vector<std::thread> pending;
  {
    std::lock_guard lock(async_mutex_);
    pending.swap(async_invocations_);
  }
  for (auto& thread : pending) thread.join();
  pools_.clear();
}

void InvokeApiServer::serve(tcp::socket& socket) {
  boost::beast::flat_buffer buffer;
  std::optional<tcp::socket> upstream_socket;
  const auto unlimited = std::numeric_limits<std::uint64_t>::max();
  while (auto request = read_request(socket, buffer, unlimited)) {
    const std::string_view target(request->target().data(), request->target().size());
    Response response;
    if (auto function = invocation_target(target);
        function && request->method() == http::verb::post) {
      response = invoke(*request, *function);
    } else {
      response = forward(*request, upstream_socket);
    }
    boost::beast::error_code error;
    if (request->method() == http::verb::head) {
      http::response_serializer<http::string_body> serializer(response);
      http::write_header(socket, serializer, error);
    } else {
      http::write(socket, response, error);
    }
    if (error || !response.keep_alive()) return;
  }
}

Response InvokeApiServer::invoke(const Request& request, const std::string& function_identifier) {
  const std::string name = function_name_from_identifier(function_identifier);
  const auto pool = pools_.find(name);
  if (pool == pools_.end()) {
    return service_error(request, http::status::not_found, "ResourceNotFoundException",
                         "Function not found: " + function_identifier);
  }
  if (request.body().size() > runtime::kMaxResponseBytes) {
    return service_error(request, http::status::payload_too_large, "RequestTooLargeException",
                         "Request must be smaller than " +
                             std::to_string(runtime::kMaxResponseBytes) +
                             " bytes for the InvokeFunction operation");
  }
  const std::string payload = request.body().empty() ? "{}" : request.body();
  std::optional<std::string> trace_id = new_trace_id();
  if (const auto header = request["X-Amzn-Trace-Id"]; !header.empty())
    trace_id = std::string(header);

  const auto invocation_type = request["X-Amz-Invocation-Type"];
  if (invocation_type == "DryRun") return make_response(http::status::no_content, request, "");
  if (invocation_type == "Event") {
    FunctionPool* target = pool->second.get();
    std::lock_guard lock(async_mutex_);
    async_invocations_.emplace_back(
        [target, payload, trace_id] { target->invoke(payload, trace_id); });
    return make_response(http::status::accepted, request, "");
  }

  const InvokeResult result = pool->second->invoke(payload, trace_id);
  Response response = make_response(http::status::ok, request, result.payload);
  response.set("X-Amz-Executed-Version", "$LATEST");
  response.set("X-Amzn-RequestId", result.request_id);
  if (!result.ok) response.set("X-Amz-Function-Error", "Unhandled");
  return response;
}

Response InvokeApiServer::forward(const Request& request,
                                  std::optional<tcp::socket>& upstream_socket) {
  if (!upstream_) {
    return service_error(request, http::status::not_found, "UnknownOperationException",
                         "no upstream configured for " + std::string(request.target()));
  }
  Request outgoing = request;
  // We answered 100-continue ourselves; the upstream would send a second interim response.
  outgoing.erase(http::field::expect);
  for (int attempt = 0; attempt < 2; ++attempt) {
    boost::beast::error_code error;
    const bool reused = upstream_socket.has_value();
    if (!upstream_socket) {
      tcp::resolver resolver(io_);
      tcp::socket socket(io_);
      boost::asio::connect(socket, resolver.resolve(upstream_->host, upstream_->port, error),
                           error);
      if (error) break;
      socket.set_option(tcp::no_delay(true), error);
      upstream_socket.emplace(std::move(socket));
    }
    http::write(*upstream_socket, outgoing, error);
    boost::beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    parser.skip(request.method() == http::verb::head);  // HEAD answers carry no body
    if (!error) http::read(*upstream_socket, buffer, parser, error);
    if (!error) {
      Response response = parser.release();
      if (!response.keep_alive()) upstream_socket.reset();
      if (request.method() != http::verb::head) response.prepare_payload();
      response.keep_alive(request.keep_alive());
      return response;
    }
    upstream_socket.reset();
    // Only a kept-alive connection that the upstream had already closed is tried again: the
    // request never reached it. Anything else may have been acted on and must not be repeated.
    const bool stale =
        reused && !parser.got_some() &&
        (error == http::error::end_of_stream || error == boost::asio::error::connection_reset ||
         error == boost::asio::error::broken_pipe);
    if (!stale) break;
  }
  return service_error(request, http::status::bad_gateway, "ServiceUnavailable",
                       "upstream " + upstream_->host + ":" + upstream_->port + " did not answer");
}

}  // namespace runtime::emulator
