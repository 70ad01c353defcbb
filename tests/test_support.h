#pragma once
// Shared by the test suites: paths to built programs, temporary folders, captured logs, and
// child processes (lambda-local, moto) started and stopped around a test.
#include <sys/types.h>

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "devtools/lambda_local/function_config.h"

namespace tests {

std::filesystem::path bin_path(const std::string& name);
std::filesystem::path source_path(const std::string& relative);

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A file the bootstrap's stdout/stderr go to, read back line by line.
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  int fd() const { return fd_; }
  std::vector<std::string> lines() const;
  // Lines that parse as JSON objects (log records and EMF lines).
  std::vector<boost::json::object> json_lines() const;

 private:
  TempDir dir_;
  int fd_;
};

devtools::FunctionConfig echo_function(
    std::chrono::milliseconds timeout = std::chrono::seconds(10));

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs a shell command, capturing stdout and stderr.
CommandResult run_command(const std::string& command);

// Polls `condition` until it holds (true) or `timeout` passes (false): a wait for a condition,
// never for a fixed time.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = std::chrono::milliseconds(50));

// A child process that runs until destroyed (SIGTERM, then SIGKILL).
class BackgroundProcess {
 public:
  // Starts `/bin/sh -c command`; stdout is read until a line containing `ready_marker` (empty:
  // don't wait). Throws if the process exits first or 30 s pass.
  BackgroundProcess(const std::string& command, const std::string& ready_marker);
  ~BackgroundProcess();
  const std::string& ready_line() const { return ready_line_; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  std::string ready_line_;
};

// A moto of the test's own (tools/moto-local, checking every signature), on a port it binds
// itself; the key and secret of its administrator sign the test's requests.
class MotoServer {
 public:
  MotoServer();
  const std::string& endpoint() const { return endpoint_; }
  const std::string& access_key_id() const { return access_key_id_; }
  const std::string& secret_access_key() const { return secret_access_key_; }

 private:
  TempDir dir_;
  BackgroundProcess process_;
  std::string endpoint_, access_key_id_, secret_access_key_;
};

}  // namespace tests
