// fault-proxy: sits between a client and moto and, for a fraction of requests, misbehaves the
// way AWS does on a bad day: 503 SlowDown / ThrottlingException, 500 InternalError, a reset
// connection (before the request reaches moto, or after moto acted on it), or a delay.
//   fault-proxy --upstream http://127.0.0.1:PORT [--port 0] [--rate 0.2] [--seed 1]
// Prints "fault-proxy listening http://127.0.0.1:PORT"; GET /fault-proxy/stats returns counts.
#include <signal.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "runtime/emulator/forwarder.h"
#include "runtime/emulator/http_server.h"

using namespace runtime::emulator;

namespace {

enum Fault { kNone, kThrottle, kInternal, kResetBefore, kResetAfter, kDelay, kFaultCount };
constexpr const char* kFaultNames[] = {"none",         "throttle",    "internal",
                                       "reset_before", "reset_after", "delay"};

struct Stats {
  std::atomic<long> requests{0};
  std::atomic<long> counts[kFaultCount] = {};
};

class FaultPolicy {
 public:
  FaultPolicy(double rate, unsigned seed) : rate_(rate), generator_(seed) {}
  Fault next() {
    std::lock_guard lock(mutex_);
    if (std::uniform_real_distribution<double>(0, 1)(generator_) >= rate_) return kNone;
    return static_cast<Fault>(std::uniform_int_distribution<int>(1, kFaultCount - 1)(generator_));
  }

 private:
  double rate_;
  std::mutex mutex_;
  std::mt19937 generator_;
};

Response error_response(const Request& request, Fault fault) {
  const bool json_protocol = !request["X-Amz-Target"].empty();
  if (json_protocol) {
    const bool throttle = fault == kThrottle;
    Response response = make_response(
        throttle ? http::status::bad_request : http::status::internal_server_error, request,
        throttle ? R"({"__type":"ThrottlingException","message":"Rate exceeded"})"
                 : R"({"__type":"InternalServerError","message":"injected by fault-proxy"})",
        "application/x-amz-json-1.0");
    response.set("x-amzn-ErrorType", throttle ? "ThrottlingException" : "InternalServerError");
    return response;
  }
  const bool throttle = fault == kThrottle;
  return make_response(
      throttle ? http::status::service_unavailable : http::status::internal_server_error, request,
      std::string("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>") +
          (throttle ? "SlowDown" : "InternalError") +
          "</Code><Message>injected by fault-proxy</Message><RequestId>fault-proxy</RequestId>"
          "</Error>",
      "application/xml");
}

void reset(tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.set_option(boost::asio::socket_base::linger(true, 0), ignored);  // close sends RST
  socket.close(ignored);
}

}  // namespace

int main(int argc, char** argv) {
  std::string upstream_url;
  int port = 0;
  double rate = 0.2;
  unsigned seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--upstream")
      upstream_url = argv[i + 1];
    else if (flag == "--port")
      port = std::stoi(argv[i + 1]);
    else if (flag == "--rate")
      rate = std::stod(argv[i + 1]);
    else if (flag == "--seed")
      seed = static_cast<unsigned>(std::stoul(argv[i + 1]));
  }
  if (upstream_url.empty()) {
    std::cerr
        << "usage: fault-proxy --upstream http://HOST:PORT [--port P] [--rate R] [--seed S]\n";
    return 2;
  }
  const Upstream upstream = parse_upstream(upstream_url);
  signal(SIGPIPE, SIG_IGN);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  Stats stats;
  FaultPolicy policy(rate, seed);
  HttpServer server(static_cast<std::uint16_t>(port), [&](tcp::socket& socket) {
    Forwarder forwarder(upstream);
    boost::beast::flat_buffer buffer;
    while (auto request = read_request(socket, buffer, std::numeric_limits<std::uint64_t>::max())) {
      if (request->target() == "/fault-proxy/stats") {
        boost::json::object counts;
        for (int f = 0; f < kFaultCount; ++f) counts[kFaultNames[f]] = stats.counts[f].load();
        Response response =
            make_response(http::status::ok, *request,
                          boost::json::serialize(boost::json::object{
                              {"requests", stats.requests.load()}, {"faults", counts}}));
        boost::beast::error_code error;
        write_response(socket, *request, response, error);
        continue;
      }
      ++stats.requests;
      const Fault fault = policy.next();
      ++stats.counts[fault];
      if (fault == kResetBefore) return reset(socket);
      if (fault == kDelay) std::this_thread::sleep_for(std::chrono::milliseconds(250));
      Response response = (fault == kThrottle || fault == kInternal)
                              ? error_response(*request, fault)
                              : forwarder.forward(*request);
      if (fault == kResetAfter) return reset(socket);
      boost::beast::error_code error;
      write_response(socket, *request, response, error);
      if (error || !response.keep_alive()) return;
    }
  });
  std::cout << "fault-proxy listening http://127.0.0.1:" << server.port() << std::endl;
  int received = 0;
  sigwait(&stop_signals, &received);
  server.stop();
  return 0;
}
