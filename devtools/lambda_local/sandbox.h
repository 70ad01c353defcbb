#pragma once
// One Lambda execution environment: a bootstrap process and the Runtime API it talks to. Like
// Lambda it stays warm between invocations, is killed when an invocation outlives its timeout,
// and is started afresh after a crash. invoke() is serialised: one invocation at a time.
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "devtools/lambda_local/function_config.h"
#include "devtools/lambda_local/http_server.h"

namespace devtools {

struct InvokeResult {
  bool ok = false;
  std::string payload;     // the function's response, or the error document
  std::string error_type;  // set when !ok
  std::string request_id;
  bool cold_start = false;
  std::chrono::microseconds init_duration{0};  // exec → first /next, on a cold start
  std::chrono::microseconds duration{0};       // event handed over → result
};

struct SandboxOptions {
  int log_fd = 2;  // where the bootstrap's stdout and stderr go
  std::string region = "us-east-1";
  std::string account_id = "123456789012";
  bool platform_log_lines = true;  // START/END/REPORT, as Lambda writes them
  // When set, each function's logs go to <log_directory>/<function name>.log (appended), as Lambda
  // gives each function its own log group; otherwise to log_fd.
  std::string log_directory;
};

std::string new_request_id();
std::string new_trace_id();

class Sandbox {
 public:
  Sandbox(FunctionConfig function, SandboxOptions options);
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // `trace_id` nullopt sends no Lambda-Runtime-Trace-Id header.
  InvokeResult invoke(const std::string& payload,
                      const std::optional<std::string>& trace_id = new_trace_id());

  // Starts the bootstrap if none runs and waits for its first /next; returns the init duration
  // (zero when it was already warm). Throws when the bootstrap cannot be started or never polls.
  std::chrono::microseconds warm_up();

  std::optional<pid_t> pid();
  // Peak resident set (VmHWM) of the running bootstrap in KiB, 0 when none runs.
  long peak_rss_kib();
  const FunctionConfig& function() const { return function_; }
  // Connections the running bootstrap has opened to its Runtime API (0 when none runs).
  std::uint64_t runtime_api_connections();

 private:
  struct Pending {
    std::string request_id;
    std::string payload;
    std::optional<std::string> trace_id;
    std::int64_t deadline_ms = 0;
    bool handed_out = false;
    std::optional<std::chrono::steady_clock::time_point> handed_out_at;
  };
  struct Instance {
    pid_t pid = -1;
    std::uint64_t generation = 0;
    std::unique_ptr<HttpServer> server;
    std::thread reaper;
    bool exited = false;
    bool init_failed = false;
    int wait_status = 0;
    std::chrono::steady_clock::time_point spawned_at;
    std::optional<std::chrono::steady_clock::time_point> first_next_at;
  };

  void spawn_locked();
  void teardown(std::unique_lock<std::mutex>& lock);
  void serve_runtime_api(tcp::socket& socket, std::uint64_t generation);
  Response route(const Request& request, std::uint64_t generation, int socket_fd);
  std::optional<Pending> wait_for_invocation(std::uint64_t generation, int socket_fd);
  Response complete(const Request& request, const std::string& request_id, bool ok);
  // Hands the invocation its result and wakes invoke(); mutex_ must be held.
  Response record_result_locked(const Request& request, InvokeResult result);
  InvokeResult failure(const std::string& request_id, bool exited);
  void write_report(const InvokeResult& result);
  void write_platform_line(const std::string& text);

  FunctionConfig function_;
  SandboxOptions options_;
  std::string function_arn_;
  std::mutex invoke_mutex_;  // serialises invoke()
  std::mutex mutex_;
  std::condition_variable changed_;
  std::unique_ptr<Instance> instance_;
  std::uint64_t generation_ = 0;
  bool stopping_ = false;
  std::optional<Pending> pending_;
  std::optional<InvokeResult> result_;
};

}  // namespace devtools
