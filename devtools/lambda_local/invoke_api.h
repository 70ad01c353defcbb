#pragma once
// The Lambda Invoke API on localhost, for Step Functions (moto's interpreter) and `aws lambda
// invoke`: POST /2015-03-31/functions/{name or url-encoded ARN}/invocations runs the function in
// a warm sandbox; every other request is forwarded unchanged to the upstream (moto), so one
// endpoint serves as both Lambda and the rest of AWS.
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "devtools/lambda_local/forwarder.h"
#include "devtools/lambda_local/function_config.h"
#include "devtools/lambda_local/http_server.h"
#include "devtools/lambda_local/sandbox.h"

namespace devtools {

// Up to max_concurrency sandboxes of one function, reused warm, as Lambda scales out.
class FunctionPool {
 public:
  FunctionPool(FunctionConfig function, SandboxOptions options);
  InvokeResult invoke(const std::string& payload, const std::optional<std::string>& trace_id);

 private:
  FunctionConfig function_;
  SandboxOptions options_;
  std::mutex mutex_;
  std::condition_variable released_;
  std::vector<std::unique_ptr<Sandbox>> sandboxes_;
  std::vector<Sandbox*> idle_;
};

// Splits /2015-03-31/functions/{id}/invocations into the decoded function identifier.
std::optional<std::string> invocation_target(std::string_view path);

class InvokeApiServer {
 public:
  InvokeApiServer(EmulatorConfig config, std::optional<Upstream> upstream, SandboxOptions options,
                  std::uint16_t port, std::string host = "127.0.0.1");
  ~InvokeApiServer();
  std::uint16_t port() const { return server_->port(); }
  void stop();

 private:
  void serve(tcp::socket& socket);
  Response invoke(const Request& request, const std::string& function_identifier);

  EmulatorConfig config_;
  std::optional<Upstream> upstream_;
  std::map<std::string, std::unique_ptr<FunctionPool>> pools_;
  std::mutex async_mutex_;
  std::vector<std::thread> async_invocations_;
  std::vector<int> log_files_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace devtools
