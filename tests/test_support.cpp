#include "tests/test_support.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/json/parse.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace tests {

namespace fs = std::filesystem;

fs::path bin_path(const std::string& name) {
  return fs::path(BIN_DIR) / name;
}
fs::path source_path(const std::string& relative) {
  return fs::path(SOURCE_DIR) / relative;
}

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "s3agg-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

LogCapture::LogCapture() {
  fd_ = ::open((dir_.path() / "log").c_str(), O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) throw std::runtime_error("cannot open log capture");
}

LogCapture::~LogCapture() {
  ::close(fd_);
}

std::vector<std::string> LogCapture::lines() const {
  std::ifstream in(dir_.path() / "log");
  std::vector<std::string> result;
  for (std::string line; std::getline(in, line);) result.push_back(line);
  return result;
}

std::vector<boost::json::object> LogCapture::json_lines() const {
  std::vector<boost::json::object> result;
  for (const auto& line : lines()) {
    boost::system::error_code error;
    auto value = boost::json::parse(line, error);
    if (!error && value.is_object()) result.push_back(value.as_object());
  }
  return result;
}

devtools::FunctionConfig echo_function(std::chrono::milliseconds timeout) {
  devtools::FunctionConfig function;
  function.name = "echo";
  function.bootstrap = bin_path("echo");
  function.timeout = timeout;
  return function;
}

CommandResult run_command(const std::string& command) {
  TempDir dir;
  const fs::path err_path = dir.path() / "stderr";
  const std::string full = command + " 2>" + err_path.string();
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed");
  CommandResult result;
  std::array<char, 65536> buffer;
  std::size_t read = 0;
  while ((read = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.out.append(buffer.data(), read);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream err(err_path);
  std::ostringstream text;
  text << err.rdbuf();
  result.err = text.str();
  return result;
}

BackgroundProcess::BackgroundProcess(const std::string& command, const std::string& ready_marker) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ == 0) {
    setpgid(0, 0);  // its own group, so children it starts are stopped with it
    dup2(out[1], 1);
    execl("/bin/sh", "sh", "-c", command.c_str(), nullptr);
    _exit(127);
  }
  ::close(out[1]);
  if (ready_marker.empty()) {
    ::close(out[0]);
    return;
  }
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string pending;
  char chunk[4096];
  while (std::chrono::steady_clock::now() < limit) {
    const ssize_t got = ::read(out[0], chunk, sizeof chunk);
    if (got <= 0) break;
    pending.append(chunk, static_cast<std::size_t>(got));
    const auto found = pending.find(ready_marker);
    // The whole line: a long one (the local stack's) comes in more than one read.
    const auto end = found == std::string::npos ? found : pending.find('\n', found);
    if (end != std::string::npos) {
      const auto start = pending.rfind('\n', found);
      ready_line_ = pending.substr(start == std::string::npos ? 0 : start + 1,
                                   end - (start == std::string::npos ? 0 : start + 1));
      // Keep draining stdout in the background so the child never blocks on a full pipe.
      std::thread([fd = out[0]] {
        char sink[4096];
        while (::read(fd, sink, sizeof sink) > 0) {
        }
        ::close(fd);
      }).detach();
      return;
    }
  }
  ::close(out[0]);
  kill(-pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  throw std::runtime_error("background process never became ready: " + command + "\n" + pending);
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

BackgroundProcess::~BackgroundProcess() {
  if (pid_ <= 0) return;
  kill(-pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(-pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

MotoServer::MotoServer()
    : process_("exec " + source_path("tools/moto-local").string() +
                   " --check-signatures --endpoint-file " + (dir_.path() / "endpoint").string() +
                   " 2>/dev/null",
               "moto ready") {
  endpoint_ = process_.ready_line().substr(process_.ready_line().find("http://"));
  std::ifstream credentials(dir_.path() / "endpoint.credentials");
  credentials >> access_key_id_ >> secret_access_key_;
}

}  // namespace tests
