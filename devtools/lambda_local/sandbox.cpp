#include "devtools/lambda_local/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <vector>

#include "runtime/clock.h"
#include "runtime/runtime.h"

extern char** environ;

namespace devtools {

namespace {

constexpr std::string_view kNextPath = "/2018-06-01/runtime/invocation/next";
constexpr std::string_view kInvocationPrefix = "/2018-06-01/runtime/invocation/";
constexpr std::string_view kInitErrorPath = "/2018-06-01/runtime/init/error";
// Bodies up to this size are read so an oversized response can be refused with a clear 413.
constexpr std::uint64_t kRuntimeApiBodyLimit = 64ull * 1024 * 1024;

std::string random_hex(std::size_t digits) {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text(digits, '0');
  for (char& c : text) c = kHex[generator() & 0xf];
  return text;
}

std::string error_document(std::string_view type, const std::string& message) {
  return boost::json::serialize(
      boost::json::object{{"errorMessage", message}, {"errorType", type}});
}

std::string describe_exit(int wait_status) {
  if (WIFEXITED(wait_status)) return "exit status " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) return std::string("signal: ") + strsignal(WTERMSIG(wait_status));
  return "unknown status";
}

bool passed_through(std::string_view name) {
  static constexpr std::string_view kNames[] = {"PATH",
                                                "LANG",
                                                "AWS_ACCESS_KEY_ID",
                                                "AWS_SECRET_ACCESS_KEY",
                                                "AWS_SESSION_TOKEN",
                                                "AWS_CA_BUNDLE",
                                                "AWS_MAX_ATTEMPTS",
                                                "AWS_RETRY_MODE",
                                                "ASAN_OPTIONS",
                                                "LSAN_OPTIONS",
                                                "UBSAN_OPTIONS",
                                                "LLVM_PROFILE_FILE"};
  for (std::string_view known : kNames) {
    if (name == known) return true;
  }
  // Local endpoints (moto) must reach the function, as they would through its configuration.
  return name.starts_with("AWS_ENDPOINT_URL");
}

long peak_rss_kib_of(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmHWM:")) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

}  // namespace

std::string new_request_id() {
  const std::string hex = random_hex(32);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-4" + hex.substr(13, 3) + "-a" +
         hex.substr(17, 3) + "-" + hex.substr(20, 12);
}

std::string new_trace_id() {
  char seconds[16];
  std::snprintf(seconds, sizeof seconds, "%08llx",
                static_cast<unsigned long long>(std::time(nullptr)));
  return "Root=1-" + std::string(seconds) + "-" + random_hex(24) + ";Parent=" + random_hex(16) +
         ";Sampled=0";
}

Sandbox::Sandbox(FunctionConfig function, SandboxOptions options)
    : function_(std::move(function)), options_(std::move(options)) {
  function_arn_ = "arn:aws:lambda:" + options_.region + ":" + options_.account_id +
                  ":function:" + function_.name;
}

Sandbox::~Sandbox() {
  std::unique_lock lock(mutex_);
  stopping_ = true;
  changed_.notify_all();
  teardown(lock);
}

void Sandbox::spawn_locked() {
  auto instance = std::make_unique<Instance>();
  const std::uint64_t generation = ++generation_;
  instance->generation = generation;
  instance->server = std::make_unique<HttpServer>(
      0, [this, generation](tcp::socket& socket) { serve_runtime_api(socket, generation); });

  std::map<std::string, std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    const auto equals = text.find('=');
    if (equals != std::string_view::npos && passed_through(text.substr(0, equals))) {
      environment[std::string(text.substr(0, equals))] = std::string(text.substr(equals + 1));
    }
  }
  const std::string directory = function_.bootstrap.parent_path().string();
  environment["AWS_LAMBDA_RUNTIME_API"] = "127.0.0.1:" + std::to_string(instance->server->port());
  environment["AWS_LAMBDA_FUNCTION_NAME"] = function_.name;
  environment["AWS_LAMBDA_FUNCTION_VERSION"] = "$LATEST";
  environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = std::to_string(function_.memory_mb);
  environment["AWS_LAMBDA_LOG_GROUP_NAME"] =
      function_.log_group.empty() ? "/aws/lambda/" + function_.name : function_.log_group;
  environment["AWS_LAMBDA_LOG_STREAM_NAME"] = "local/[$LATEST]" + random_hex(32);
  environment["AWS_LAMBDA_INITIALIZATION_TYPE"] = "on-demand";
  environment["AWS_LAMBDA_LOG_FORMAT"] = function_.log_format;
  if (!function_.log_level.empty()) environment["AWS_LAMBDA_LOG_LEVEL"] = function_.log_level;
  environment["AWS_REGION"] = options_.region;
  environment["AWS_DEFAULT_REGION"] = options_.region;
  environment["_HANDLER"] = function_.bootstrap.filename().string();
  environment["LAMBDA_TASK_ROOT"] = directory;
  environment["LAMBDA_RUNTIME_DIR"] = directory;
  environment["TZ"] = ":UTC";
  for (const auto& [name, value] : function_.environment) environment[name] = value;

  std::vector<std::string> entries;
  for (const auto& [name, value] : environment) entries.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& entry : entries) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::string program = function_.bootstrap.string();
  char* argv[] = {program.data(), nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, options_.log_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, options_.log_fd, 2);
  posix_spawn_file_actions_addchdir_np(&actions, directory.empty() ? "." : directory.c_str());
  instance->spawned_at = std::chrono::steady_clock::now();
  const int failure =
      posix_spawn(&instance->pid, program.c_str(), &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (failure != 0) {
    instance->server->stop();
    throw std::runtime_error("cannot start " + program + ": " + std::strerror(failure));
  }
  Instance* raw = instance.get();
  raw->reaper = std::thread([this, raw] {
    int status = 0;
    while (waitpid(raw->pid, &status, 0) < 0 && errno == EINTR) {
    }
    std::lock_guard lock(mutex_);
    raw->exited = true;
    raw->wait_status = status;
    changed_.notify_all();
  });
  instance_ = std::move(instance);
}

// Kills the running bootstrap (if any) and waits until its process and threads are gone.
void Sandbox::teardown(std::unique_lock<std::mutex>& lock) {
  if (!instance_) return;
  std::unique_ptr<Instance> instance = std::move(instance_);
  ++generation_;  // a /next still waiting for this instance gives up
  changed_.notify_all();
  if (!instance->exited) ::kill(instance->pid, SIGKILL);
  lock.unlock();
  instance->reaper.join();
  instance->server->stop();
  lock.lock();
}

std::chrono::microseconds Sandbox::warm_up() {
  std::lock_guard invoke_lock(invoke_mutex_);
  std::unique_lock lock(mutex_);
  if (instance_ && instance_->exited) teardown(lock);
  if (instance_) return std::chrono::microseconds(0);
  spawn_locked();
  const auto limit = std::chrono::steady_clock::now() + function_.timeout;
  changed_.wait_until(lock, limit, [&] { return instance_->first_next_at || instance_->exited; });
  if (!instance_->first_next_at) {
    const std::string reason =
        instance_->exited ? describe_exit(instance_->wait_status) : "no /next before the timeout";
    teardown(lock);
    throw std::runtime_error(function_.name + " did not start: " + reason);
  }
  return std::chrono::duration_cast<std::chrono::microseconds>(*instance_->first_next_at -
                                                               instance_->spawned_at);
}

InvokeResult Sandbox::invoke(const std::string& payload,
                             const std::optional<std::string>& trace_id) {
  std::lock_guard invoke_lock(invoke_mutex_);
  std::unique_lock lock(mutex_);
  const std::string request_id = new_request_id();
  bool cold_start = false;
  std::chrono::steady_clock::time_point started;
  bool finished = false;
  // A process that dies before taking the event (it crashed while idle, or during start-up) never
  // saw it: start a fresh environment and hand the event over again, once.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (instance_ && instance_->exited) teardown(lock);
    if (!instance_) {
      try {
        spawn_locked();
      } catch (const std::exception& error) {
        InvokeResult result;
        result.request_id = request_id;
        result.error_type = "Runtime.InvalidEntrypoint";
        result.payload = error_document(result.error_type, error.what());
        return result;
      }
      cold_start = true;
    }
    started = std::chrono::steady_clock::now();
    const auto deadline = std::chrono::system_clock::now() + function_.timeout;
    if (attempt == 0) write_platform_line("START RequestId: " + request_id + " Version: $LATEST");
    result_.reset();
    pending_ =
        Pending{request_id, payload, trace_id, runtime::epoch_ms(deadline), false, std::nullopt};
    changed_.notify_all();
    finished = changed_.wait_until(lock, started + function_.timeout,
                                   [&] { return result_.has_value() || instance_->exited; });
    if (result_ || !instance_->exited || pending_->handed_out) break;
  }
  InvokeResult result = result_ ? std::move(*result_) : failure(request_id, finished);
  const auto ended = std::chrono::steady_clock::now();
  result.request_id = request_id;
  result.cold_start = cold_start;
  // As in Lambda's REPORT, Duration covers the invocation, not the start-up before it.
  const auto handed_over =
      (pending_ && pending_->handed_out_at) ? *pending_->handed_out_at : started;
  result.duration = std::chrono::duration_cast<std::chrono::microseconds>(ended - handed_over);
  if (cold_start && instance_->first_next_at) {
    result.init_duration = std::chrono::duration_cast<std::chrono::microseconds>(
        *instance_->first_next_at - instance_->spawned_at);
  }
  pending_.reset();
  result_.reset();
  write_report(result);

  // Lambda throws away an environment whose invocation timed out, crashed or failed to init.
  if (!finished || instance_->exited || instance_->init_failed) teardown(lock);
  return result;
}

// What Lambda answers for an invocation the runtime never answered: the process exited, or the
// timeout passed.
InvokeResult Sandbox::failure(const std::string& request_id, bool exited) {
  InvokeResult result;
  if (exited) {
    result.error_type = "Runtime.ExitError";
    const std::string message = "RequestId: " + request_id + " Error: Runtime exited with error: " +
                                describe_exit(instance_->wait_status);
    result.payload = error_document(result.error_type, message);
    write_platform_line(message + "\n" + result.error_type);
    return result;
  }
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.2f", function_.timeout.count() / 1000.0);
  result.error_type = "Sandbox.Timedout";
  const std::string message =
      "RequestId: " + request_id + " Error: Task timed out after " + seconds + " seconds";
  result.payload = error_document(result.error_type, message);
  write_platform_line(message);
  return result;
}

// END and REPORT, as Lambda writes them after every invocation.
void Sandbox::write_report(const InvokeResult& result) {
  write_platform_line("END RequestId: " + result.request_id);
  char report[256];
  std::snprintf(
      report, sizeof report,
      "REPORT RequestId: %s\tDuration: %.2f ms\tMemory Size: %d MB\tMax Memory Used: %ld MB",
      result.request_id.c_str(), result.duration.count() / 1000.0, function_.memory_mb,
      instance_->exited ? 0L : peak_rss_kib_of(instance_->pid) / 1024);
  std::string report_line = report;
  if (result.cold_start) {
    std::snprintf(report, sizeof report, "\tInit Duration: %.2f ms",
                  result.init_duration.count() / 1000.0);
    report_line += report;
  }
  write_platform_line(report_line);
}

void Sandbox::write_platform_line(const std::string& text) {
  if (!options_.platform_log_lines) return;
  const std::string line = text + "\n";
  [[maybe_unused]] const ssize_t written = ::write(options_.log_fd, line.data(), line.size());
}

void Sandbox::serve_runtime_api(tcp::socket& socket, std::uint64_t generation) {
  boost::beast::flat_buffer buffer;
  while (auto request = read_request(socket, buffer, kRuntimeApiBodyLimit)) {
    Response response = route(*request, generation, socket.native_handle());
    boost::beast::error_code error;
    http::write(socket, response, error);
    if (error || !response.keep_alive()) return;
  }
}

std::optional<Sandbox::Pending> Sandbox::wait_for_invocation(std::uint64_t generation,
                                                             int socket_fd) {
  std::unique_lock lock(mutex_);
  if (instance_ && instance_->generation == generation && !instance_->first_next_at) {
    instance_->first_next_at = std::chrono::steady_clock::now();
    changed_.notify_all();
  }
  changed_.wait(lock, [&] {
    return stopping_ || generation_ != generation || (pending_ && !pending_->handed_out);
  });
  if (stopping_ || generation_ != generation) return std::nullopt;
  // A process that died while parked in /next must not be handed the event: it would be lost
  // with the process instead of going to a fresh environment.
  pollfd peer{socket_fd, POLLRDHUP, 0};
  if (::poll(&peer, 1, 0) > 0 && (peer.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
    return std::nullopt;
  }
  pending_->handed_out = true;
  pending_->handed_out_at = std::chrono::steady_clock::now();
  return pending_;
}

Response Sandbox::route(const Request& request, std::uint64_t generation, int socket_fd) {
  const std::string_view target(request.target().data(), request.target().size());
  if (request.method() == http::verb::get && target == kNextPath) {
    auto pending = wait_for_invocation(generation, socket_fd);
    if (!pending) {
      Response gone =
          make_response(http::status::gone, request,
                        error_document("Runtime.Stopped", "environment is shutting down"));
      gone.keep_alive(false);
      return gone;
    }
    Response response = make_response(http::status::ok, request, pending->payload);
    response.set("Lambda-Runtime-Aws-Request-Id", pending->request_id);
    response.set("Lambda-Runtime-Deadline-Ms", std::to_string(pending->deadline_ms));
    response.set("Lambda-Runtime-Invoked-Function-Arn", function_arn_);
    if (pending->trace_id) response.set("Lambda-Runtime-Trace-Id", *pending->trace_id);
    return response;
  }
  if (request.method() == http::verb::post && target == kInitErrorPath) {
    std::lock_guard lock(mutex_);
    if (instance_ && instance_->generation == generation) instance_->init_failed = true;
    if (generation_ != generation || !pending_ || result_) {
      return make_response(http::status::accepted, request, R"({"status":"OK"})");
    }
    InvokeResult result;
    const auto type = request["Lambda-Runtime-Function-Error-Type"];
    result.error_type = type.empty() ? "Runtime.Unknown" : std::string(type);
    result.payload = request.body();
    return record_result_locked(request, std::move(result));
  }
  if (request.method() == http::verb::post && target.starts_with(kInvocationPrefix)) {
    const std::string_view rest = target.substr(kInvocationPrefix.size());
    const auto slash = rest.find('/');
    const std::string request_id(rest.substr(0, slash));
    const std::string_view action = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
    if (action == "response") return complete(request, request_id, true);
    if (action == "error") return complete(request, request_id, false);
  }
  return make_response(http::status::not_found, request,
                       error_document("InvalidRequest", "unknown Runtime API path"));
}

Response Sandbox::complete(const Request& request, const std::string& request_id, bool ok) {
  std::lock_guard lock(mutex_);
  if (!pending_ || !pending_->handed_out || pending_->request_id != request_id || result_) {
    return make_response(http::status::bad_request, request,
                         error_document("InvalidRequestID", "Invalid request ID"));
  }
  InvokeResult result;
  result.ok = ok;
  if (ok && request.body().size() > runtime::kMaxResponseBytes) {
    result.ok = false;
    result.error_type = "Function.ResponseSizeTooLarge";
    result.payload = error_document(
        result.error_type, "Response payload size exceeded maximum allowed payload size (" +
                               std::to_string(runtime::kMaxResponseBytes) + " bytes).");
    result_ = std::move(result);
    changed_.notify_all();
    return make_response(
        http::status::payload_too_large, request,
        error_document("RequestEntityTooLarge", "Exceeded maximum allowed payload size (" +
                                                    std::to_string(runtime::kMaxResponseBytes) +
                                                    " bytes)."));
  }
  if (!ok) {
    const auto type = request["Lambda-Runtime-Function-Error-Type"];
    result.error_type = type.empty() ? "Unhandled" : std::string(type);
  }
  result.payload = request.body();
  return record_result_locked(request, std::move(result));
}

Response Sandbox::record_result_locked(const Request& request, InvokeResult result) {
  result_ = std::move(result);
  changed_.notify_all();
  return make_response(http::status::accepted, request, R"({"status":"OK"})");
}

std::optional<pid_t> Sandbox::pid() {
  std::lock_guard lock(mutex_);
  if (!instance_ || instance_->exited) return std::nullopt;
  return instance_->pid;
}

std::uint64_t Sandbox::runtime_api_connections() {
  std::lock_guard lock(mutex_);
  return instance_ ? instance_->server->connections_accepted() : 0;
}

long Sandbox::peak_rss_kib() {
  const auto running = pid();
  return running ? peak_rss_kib_of(*running) : 0;
}

}  // namespace devtools
