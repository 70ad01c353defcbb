// Startup and per-invocation cost of a bootstrap on our runtime, next to Python + boto3 measured
// in the same run on the same machine.
//   build/bin/bench_runtime_startup [--runs 20] [--invocations 10000] [--bootstrap PATH]
//                                   [--env NAME=VALUE]... [--python-clients s3,dynamodb,...]
// Init duration: exec → first GET /next (the emulator timestamps both). Python: exec → a line
// printed after `import boto3` and creating the clients the function creates (s3 by default). Peak
// RSS: VmHWM of the live process.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "devtools/lambda_local/sandbox.h"

namespace {

using Micros = std::chrono::microseconds;

struct Sample {
  double init_ms;
  long rss_kib;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<std::size_t>(p * values.size()))];
}

long vm_hwm_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmHWM:")) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

Sample measure_bootstrap(const devtools::FunctionConfig& function) {
  devtools::SandboxOptions options;
  options.log_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  options.platform_log_lines = false;
  Sample sample{};
  {
    devtools::Sandbox sandbox(function, options);
    sample.init_ms = sandbox.warm_up().count() / 1000.0;
    sandbox.invoke("{}");
    sample.rss_kib = sandbox.peak_rss_kib();
  }
  ::close(options.log_fd);
  return sample;
}

// Returns nullopt when python3 or boto3 is missing.
std::optional<Sample> measure_python(const std::string& clients) {
  int to_child[2], from_child[2];
  if (pipe(to_child) != 0 || pipe(from_child) != 0) return std::nullopt;
  const auto started = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(to_child[0], 0);
    dup2(from_child[1], 1);
    close(to_child[1]);
    close(from_child[0]);
    const std::string program = "import sys, boto3\nfor name in '" + clients +
                                "'.split(','):\n    boto3.client(name, region_name='us-east-1')\n"
                                "print('ready', flush=True)\nsys.stdin.read()\n";
    execlp("python3", "python3", "-c", program.c_str(), nullptr);
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  char buffer[16] = {};
  const ssize_t got = read(from_child[0], buffer, sizeof buffer);
  const auto ready = std::chrono::steady_clock::now();
  std::optional<Sample> sample;
  if (got > 0 && std::strncmp(buffer, "ready", 5) == 0) {
    sample =
        Sample{std::chrono::duration<double, std::milli>(ready - started).count(), vm_hwm_kib(pid)};
  }
  close(to_child[1]);
  close(from_child[0]);
  waitpid(pid, nullptr, 0);
  return sample;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 20;
  int invocations = 10000;
  std::string bootstrap = std::string(BIN_DIR) + "/echo";
  std::string python_clients = "s3";
  devtools::FunctionConfig function;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--env") {
      const std::string setting = argv[i + 1];
      const auto equals = setting.find('=');
      if (equals != std::string::npos)
        function.environment[setting.substr(0, equals)] = setting.substr(equals + 1);
    } else if (flag == "--python-clients")
      python_clients = argv[i + 1];
    else if (flag == "--runs")
      runs = std::atoi(argv[i + 1]);
    else if (flag == "--invocations")
      invocations = std::atoi(argv[i + 1]);
    else if (flag == "--bootstrap")
      bootstrap = argv[i + 1];
  }
  function.name = "echo";
  function.bootstrap = bootstrap;
  function.timeout = std::chrono::seconds(30);

  std::vector<double> ours_ms, ours_rss, python_ms, python_rss;
  for (int i = 0; i < runs; ++i) {
    const Sample ours = measure_bootstrap(function);
    ours_ms.push_back(ours.init_ms);
    ours_rss.push_back(static_cast<double>(ours.rss_kib));
    if (const auto python = measure_python(python_clients)) {
      python_ms.push_back(python->init_ms);
      python_rss.push_back(static_cast<double>(python->rss_kib));
    }
  }
  std::printf("startup (median of %d runs)\n", runs);
  std::printf("  %-34s init %8.2f ms   peak RSS %7.1f MiB\n", bootstrap.c_str(), median(ours_ms),
              median(ours_rss) / 1024);
  if (!python_ms.empty()) {
    std::printf("  %-34s init %8.2f ms   peak RSS %7.1f MiB\n",
                ("python3 + boto3 " + python_clients).c_str(), median(python_ms),
                median(python_rss) / 1024);
    std::printf("  ratio python/ours: init %.1fx, peak RSS %.1fx\n",
                median(python_ms) / median(ours_ms), median(python_rss) / median(ours_rss));
  } else {
    std::printf("  python3 + boto3 not available: no baseline\n");
  }

  if (invocations <= 0) return 0;
  devtools::SandboxOptions options;
  options.log_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  options.platform_log_lines = false;
  devtools::Sandbox sandbox(function, options);
  sandbox.warm_up();
  std::vector<double> round_trips;
  round_trips.reserve(static_cast<std::size_t>(invocations));
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < invocations; ++i) {
    const auto before = std::chrono::steady_clock::now();
    const auto result = sandbox.invoke(R"({"i":1})");
    if (!result.ok) {
      std::fprintf(stderr, "invocation %d failed: %s\n", i, result.payload.c_str());
      return 1;
    }
    round_trips.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - before)
            .count());
  }
  const double total_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("per-invocation round trip over %d warm invocations (emulator + runtime + handler)\n",
              invocations);
  std::printf("  mean %.1f us   p50 %.1f us   p99 %.1f us   %.0f invocations/s\n",
              total_s * 1e6 / invocations, percentile(round_trips, 0.5),
              percentile(round_trips, 0.99), invocations / total_s);
  return 0;
}
