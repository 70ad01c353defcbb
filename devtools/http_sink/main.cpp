// http-sink: the local ingestion endpoint LogForwarder's tests and benchmarks send to.
//
//   http-sink [--port 0] [--rate 0] [--faults 429,503,slow,reset] [--slow-ms 2000] [--seed 1]
//             [--token TOKEN]
//
// Prints "http-sink listening http://127.0.0.1:PORT"; GET /_sink/stats returns its counts as
// JSON (requests, accepted and distinct batches, lines, batches accepted twice, bad batches,
// faults by kind). SIGINT or SIGTERM stops it.
#include <csignal>
#include <iostream>
#include <sstream>

#include "devtools/http_sink/sink.h"

namespace {

constexpr const char* kUsage =
    "usage: http-sink [--port 0] [--rate 0] [--faults 429,503,slow,reset] [--slow-ms 2000] "
    "[--seed 1] [--token TOKEN]\n";

bool parse_kinds(const std::string& text, devtools::SinkFaults& faults) {
  faults.too_many_requests = faults.unavailable = faults.slow = faults.reset = false;
  std::istringstream items(text);
  for (std::string kind; std::getline(items, kind, ',');) {
    if (kind == "429")
      faults.too_many_requests = true;
    else if (kind == "503")
      faults.unavailable = true;
    else if (kind == "slow")
      faults.slow = true;
    else if (kind == "reset")
      faults.reset = true;
    else
      return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  devtools::SinkFaults faults;
  std::string token;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) {
      std::cerr << flag << " needs a value\n" << kUsage;
      return 2;
    }
    const std::string value = argv[i + 1];
    try {
      if (flag == "--port") {
        port = std::stoi(value);
      } else if (flag == "--rate") {
        faults.rate = std::stod(value);
      } else if (flag == "--faults") {
        if (!parse_kinds(value, faults)) {
          std::cerr << "--faults takes 429, 503, slow and reset, not " << value << "\n";
          return 2;
        }
      } else if (flag == "--slow-ms") {
        faults.slow_ms = std::stoi(value);
      } else if (flag == "--seed") {
        faults.seed = static_cast<std::uint32_t>(std::stoul(value));
      } else if (flag == "--token") {
        token = value;
      } else {
        std::cerr << "unknown option " << flag << "\n" << kUsage;
        return 2;
      }
    } catch (const std::exception&) {
      std::cerr << flag << " needs a number, not " << value << "\n";
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  devtools::block_stop_signals();
  devtools::HttpSink sink(static_cast<std::uint16_t>(port), faults, token);
  std::cout << "http-sink listening " << sink.url() << std::endl;
  devtools::wait_for_stop_signal();
  sink.stop();
  return 0;
}
