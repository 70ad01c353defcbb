#include "devtools/lambda_local/invoke_api.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/serialize.hpp>
#include <limits>
#include <stdexcept>

#include "common/sigv4.h"
#include "runtime/runtime.h"

namespace devtools {

namespace {

constexpr std::string_view kFunctionsPrefix = "/2015-03-31/functions/";
constexpr std::string_view kInvocationsSuffix = "/invocations";

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

std::optional<std::string> invocation_target(std::string_view path) {
  if (const auto query = path.find('?'); query != std::string_view::npos)
    path = path.substr(0, query);
  // Longer than both, or "/2015-03-31/functions/invocations" would take its overlap as a name.
  if (path.size() <= kFunctionsPrefix.size() + kInvocationsSuffix.size() ||
      !path.starts_with(kFunctionsPrefix) || !path.ends_with(kInvocationsSuffix))
    return std::nullopt;
  path.remove_prefix(kFunctionsPrefix.size());
  path.remove_suffix(kInvocationsSuffix.size());
  if (path.empty() || path.find('/') != std::string_view::npos) return std::nullopt;
  return common::url_decode(path);
}

InvokeApiServer::InvokeApiServer(EmulatorConfig config, std::optional<Upstream> upstream,
                                 SandboxOptions options, std::uint16_t port, std::string host)
    : config_(std::move(config)), upstream_(std::move(upstream)) {
  options.region = config_.region;
  options.account_id = config_.account_id;
  for (const auto& [name, function] : config_.functions) {
    SandboxOptions function_options = options;
    if (!options.log_directory.empty()) {
      const std::string path = options.log_directory + "/" + name + ".log";
      const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
      log_files_.push_back(fd);
      function_options.log_fd = fd;
    }
    pools_[name] = std::make_unique<FunctionPool>(function, function_options);
  }
  server_ = std::make_unique<HttpServer>(
      port, [this](tcp::socket& socket) { serve(socket); }, std::move(host));
}

InvokeApiServer::~InvokeApiServer() {
  stop();
  pools_.clear();
  for (const int fd : log_files_) ::close(fd);
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
  std::optional<Forwarder> forwarder;
  if (upstream_) forwarder.emplace(*upstream_);
  const auto unlimited = std::numeric_limits<std::uint64_t>::max();
  while (auto request = read_request(socket, buffer, unlimited)) {
    const std::string_view target(request->target().data(), request->target().size());
    Response response;
    if (auto function = invocation_target(target);
        function && request->method() == http::verb::post) {
      response = invoke(*request, *function);
    } else if (forwarder) {
      response = forwarder->forward(*request);
    } else {
      response = service_error(*request, http::status::not_found, "UnknownOperationException",
                               "no upstream configured for " + std::string(target));
    }
    boost::beast::error_code error;
    write_response(socket, *request, response, error);
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

}  // namespace devtools
