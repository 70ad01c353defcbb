// fault-proxy: sits between a client and moto and, for a fraction of requests, misbehaves the
// way AWS does on a bad day: 503 SlowDown / ThrottlingException, 500 InternalError, a reset
// connection (before the request reaches moto, or after moto acted on it), a delay, — for
// CompleteMultipartUpload, UploadPartCopy and CopyObject, as S3 documents — 200 OK with an <Error>
// body, or — for DeleteObjects — one key of the batch answered as an InternalError entry of the
// result (key_refused; moto has deleted it all the same: the answer was lost, not the work).
//   fault-proxy --upstream http://127.0.0.1:PORT [--port 0] [--rate 0.2] [--seed 1]
//               [--faults throttle,internal,reset_before,reset_after,delay,error_in_200,
//                         key_refused]
//               [--delay-ms 250] [--hold 'REGEX[@N]']...
// (--faults delay --rate 1 --delay-ms 20 gives every request S3-like latency, for benchmarks.)
// Prints "fault-proxy listening http://127.0.0.1:PORT"; GET /fault-proxy/stats returns counts:
// faults injected, and requests, body bytes and the most requests outstanding at once by API
// operation (benchmarks and concurrency tests read those).
// --hold keeps the Nth (default first) request whose "METHOD target" matches REGEX waiting until
// POST /fault-proxy/release (all) or /fault-proxy/release?hold=I (the Ith --hold), then forwards
// it: a test can kill the client while it is known to be in the middle of that request (stats
// show each hold as "armed", "waiting", then "released").
#include <signal.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <pugixml.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "devtools/lambda_local/forwarder.h"
#include "devtools/lambda_local/http_server.h"

using namespace devtools;

namespace {

enum Fault {
  kNone,
  kThrottle,
  kInternal,
  kResetBefore,
  kResetAfter,
  kDelay,
  kErrorIn200,
  kKeyRefused,
  kFaultCount
};
constexpr const char* kFaultNames[] = {"none",        "throttle", "internal",     "reset_before",
                                       "reset_after", "delay",    "error_in_200", "key_refused"};

// One --hold: fires once, on the Nth matching request.
class Hold {
 public:
  explicit Hold(const std::string& specification) {
    std::string pattern = specification;
    if (const auto at = specification.rfind('@'); at != std::string::npos) {
      const std::string count = specification.substr(at + 1);
      if (!count.empty() && count.find_first_not_of("0123456789") == std::string::npos) {
        nth_ = std::stoi(count);
        pattern = specification.substr(0, at);
      }
    }
    text_ = pattern;
    pattern_ = std::regex(pattern);
  }

  // Blocks the calling connection while this is the request to hold.
  void maybe_wait(const Request& request) {
    const std::string line = std::string(request.method_string()) + " " +
                             std::string(request.target().data(), request.target().size());
    std::unique_lock lock(mutex_);
    if (state_ != kArmed || !std::regex_search(line, pattern_) || ++seen_ < nth_) return;
    state_ = kWaiting;
    released_.wait(lock, [&] { return state_ == kReleased; });
  }

  void release() {
    std::lock_guard lock(mutex_);
    if (state_ == kWaiting) state_ = kReleased;
    released_.notify_all();
  }

  boost::json::object describe() {
    std::lock_guard lock(mutex_);
    constexpr const char* kStates[] = {"armed", "waiting", "released"};
    return {{"pattern", text_}, {"nth", nth_}, {"state", kStates[state_]}};
  }

 private:
  enum State { kArmed, kWaiting, kReleased };
  std::string text_;
  std::regex pattern_;
  int nth_ = 1;
  int seen_ = 0;
  State state_ = kArmed;
  std::mutex mutex_;
  std::condition_variable released_;
};

struct Traffic {
  long count = 0;
  long long bytes_sent = 0;      // request bodies, to AWS
  long long bytes_received = 0;  // response bodies, from AWS
  long in_flight = 0;
  long most_in_flight = 0;  // how many of these the client had outstanding at once, at most
};

struct Stats {
  std::atomic<long> requests{0};
  std::atomic<long> counts[kFaultCount] = {};
  std::mutex mutex;
  std::map<std::string, Traffic> operations;  // by API operation, for benchmarks

  void begin(const std::string& operation) {
    std::lock_guard lock(mutex);
    Traffic& traffic = operations[operation];
    traffic.most_in_flight = std::max(traffic.most_in_flight, ++traffic.in_flight);
  }
  void end(const std::string& operation) {
    std::lock_guard lock(mutex);
    --operations[operation].in_flight;
  }
  void record(const std::string& operation, std::size_t sent, std::size_t received) {
    std::lock_guard lock(mutex);
    Traffic& traffic = operations[operation];
    ++traffic.count;
    traffic.bytes_sent += static_cast<long long>(sent);
    traffic.bytes_received += static_cast<long long>(received);
  }
};

bool has_query(std::string_view target, std::string_view name) {
  const auto query = target.find('?');
  if (query == std::string_view::npos) return false;
  std::string_view rest = target.substr(query + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    if (pair.substr(0, pair.find('=')) == name) return true;
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return false;
}

// The API operation a request is (S3 by method and query; JSON protocols by X-Amz-Target).
std::string operation_of(const Request& request) {
  if (const auto target = request["X-Amz-Target"]; !target.empty()) {
    const auto dot = target.rfind('.');
    return std::string(dot == std::string_view::npos ? target : target.substr(dot + 1));
  }
  const std::string_view target(request.target().data(), request.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  const bool bucket_only = path.find('/', 1) == std::string_view::npos || path.ends_with('/');
  switch (request.method()) {
    case http::verb::get:
      if (has_query(target, "uploadId")) return "ListParts";
      if (has_query(target, "uploads")) return "ListMultipartUploads";
      if (has_query(target, "versions")) return "ListObjectVersions";
      if (bucket_only) return "ListObjects";
      return "GetObject";
    case http::verb::head:
      return bucket_only ? "HeadBucket" : "HeadObject";
    case http::verb::put:
      if (has_query(target, "partNumber"))
        return request["x-amz-copy-source"].empty() ? "UploadPart" : "UploadPartCopy";
      if (!request["x-amz-copy-source"].empty()) return "CopyObject";
      return bucket_only ? "PutBucket" : "PutObject";
    case http::verb::post:
      if (has_query(target, "uploads")) return "CreateMultipartUpload";
      if (has_query(target, "uploadId")) return "CompleteMultipartUpload";
      if (has_query(target, "delete")) return "DeleteObjects";
      return "Post";
    case http::verb::delete_:
      if (has_query(target, "uploadId")) return "AbortMultipartUpload";
      return "DeleteObject";
    default:
      return std::string(request.method_string());
  }
}

bool is_delete_objects(const Request& request) {
  const std::string_view target(request.target().data(), request.target().size());
  return request.method() == http::verb::post && has_query(target, "delete");
}

// The operations AWS may answer with 200 and an error document.
bool can_fail_with_200(const Request& request) {
  const std::string_view target(request.target().data(), request.target().size());
  const bool complete =
      request.method() == http::verb::post && target.find("uploadId=") != std::string_view::npos;
  return complete || !request["x-amz-copy-source"].empty();
}

// The DeleteObjects result with one requested object (the `pick`th, modulo their number) answered
// as an InternalError, as S3 answers a key it failed to delete, in place of moto's answer for it.
std::string with_key_refused(const std::string& request_body, const std::string& result,
                             std::size_t pick) {
  pugi::xml_document request, response;
  if (!request.load_buffer(request_body.data(), request_body.size()) ||
      !response.load_buffer(result.data(), result.size()))
    return result;
  std::vector<pugi::xml_node> objects;
  for (auto object : request.child("Delete").children("Object")) objects.push_back(object);
  pugi::xml_node root = response.child("DeleteResult");
  if (objects.empty() || !root) return result;
  const pugi::xml_node refused = objects[pick % objects.size()];
  const std::string key = refused.child_value("Key"), version = refused.child_value("VersionId");
  for (auto entry = root.first_child(); entry;) {  // its Deleted, or an Error moto gave it
    auto next = entry.next_sibling();
    if (key == entry.child_value("Key") && version == entry.child_value("VersionId"))
      root.remove_child(entry);
    entry = next;
  }
  pugi::xml_node error = root.append_child("Error");
  error.append_child("Key").text().set(key.c_str());
  if (!version.empty()) error.append_child("VersionId").text().set(version.c_str());
  error.append_child("Code").text().set("InternalError");
  error.append_child("Message").text().set("We encountered an internal error. Please try again.");
  std::ostringstream out;
  response.save(out, "", pugi::format_raw);
  return out.str();
}

class FaultPolicy {
 public:
  FaultPolicy(double rate, unsigned seed, std::vector<Fault> kinds)
      : rate_(rate), generator_(seed), kinds_(std::move(kinds)) {}
  Fault next(const Request& request) {
    std::lock_guard lock(mutex_);
    std::vector<Fault> possible;
    for (Fault kind : kinds_) {
      if (kind == kErrorIn200 && !can_fail_with_200(request)) continue;
      if (kind == kKeyRefused && !is_delete_objects(request)) continue;
      possible.push_back(kind);
    }
    if (possible.empty() || std::uniform_real_distribution<double>(0, 1)(generator_) >= rate_) {
      return kNone;
    }
    return possible[std::uniform_int_distribution<std::size_t>(0, possible.size() - 1)(generator_)];
  }

 private:
  double rate_;
  std::mutex mutex_;
  std::mt19937 generator_;
  std::vector<Fault> kinds_;
};

std::vector<Fault> parse_kinds(const std::string& list) {
  std::vector<Fault> kinds;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    const std::string name = list.substr(start, comma - start);
    for (int kind = 1; kind < kFaultCount; ++kind) {
      if (name == kFaultNames[kind]) kinds.push_back(static_cast<Fault>(kind));
    }
    start = comma + 1;
  }
  return kinds;
}

Response error_response(const Request& request, Fault fault) {
  if (fault == kErrorIn200) {
    return make_response(
        http::status::ok, request,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code>"
        "<Message>We encountered an internal error. Please try again.</Message>"
        "<RequestId>fault-proxy</RequestId></Error>",
        "application/xml");
  }
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

struct Options {
  std::string upstream_url;
  int port = 0;
  double rate = 0.2;
  unsigned seed = 1;
  int delay_ms = 250;
  // key_refused only when asked for: the suites that predate it keep their seeded sequences.
  std::string kinds = "throttle,internal,reset_before,reset_after,delay,error_in_200";
  std::deque<Hold> holds;  // a deque: Hold is neither movable nor copyable
};

constexpr const char* kUsage =
    "usage: fault-proxy --upstream http://HOST:PORT [--port P] [--rate R] [--seed S] "
    "[--faults KIND,...] [--delay-ms 250] [--hold 'REGEX[@N]']...\n";

// False, having said why, on a bad command line.
bool parse_options(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) {
      std::cerr << flag << " needs a value\n" << kUsage;
      return false;
    }
    const std::string value = argv[i + 1];
    if (flag == "--upstream") {
      options.upstream_url = value;
    } else if (flag == "--port") {
      options.port = std::stoi(value);
    } else if (flag == "--rate") {
      options.rate = std::stod(value);
    } else if (flag == "--delay-ms") {
      options.delay_ms = std::stoi(value);
    } else if (flag == "--seed") {
      options.seed = static_cast<unsigned>(std::stoul(value));
    } else if (flag == "--faults") {
      options.kinds = value;
    } else if (flag == "--hold") {
      try {
        options.holds.emplace_back(value);
      } catch (const std::regex_error& error) {
        std::cerr << "--hold " << value << ": " << error.what() << "\n";
        return false;
      }
    } else {
      std::cerr << "unknown option " << flag << "\n" << kUsage;
      return false;
    }
  }
  if (options.upstream_url.empty()) {
    std::cerr << kUsage;
    return false;
  }
  if (parse_kinds(options.kinds).empty()) {
    std::cerr << "no known fault kind in --faults " << options.kinds << "\n" << kUsage;
    return false;
  }
  return true;
}

bool is_control(std::string_view target) {
  return target == "/fault-proxy/stats" || target.starts_with("/fault-proxy/release");
}

// GET /fault-proxy/stats, POST /fault-proxy/release[?hold=I]: releases, then the counts.
Response control(const Request& request, Stats& stats, std::deque<Hold>& holds) {
  const std::string_view target(request.target().data(), request.target().size());
  if (target == "/fault-proxy/release") {
    for (Hold& hold : holds) hold.release();
  } else if (target.starts_with("/fault-proxy/release?hold=")) {
    const auto index = std::strtoul(target.data() + target.find('=') + 1, nullptr, 10);
    if (index < holds.size()) holds[index].release();
  }
  boost::json::object counts;
  for (int f = 0; f < kFaultCount; ++f) counts[kFaultNames[f]] = stats.counts[f].load();
  boost::json::array hold_states;
  for (Hold& hold : holds) hold_states.push_back(hold.describe());
  boost::json::object operations;
  {
    std::lock_guard lock(stats.mutex);
    for (const auto& [name, traffic] : stats.operations) {
      operations[name] = {{"count", traffic.count},
                          {"bytes_sent", traffic.bytes_sent},
                          {"bytes_received", traffic.bytes_received},
                          {"most_in_flight", traffic.most_in_flight}};
    }
  }
  return make_response(
      http::status::ok, request,
      boost::json::serialize(boost::json::object{{"requests", stats.requests.load()},
                                                 {"faults", counts},
                                                 {"holds", hold_states},
                                                 {"operations", operations}}));
}

// One connection: each request forwarded, or misbehaved with, as the policy draws.
void proxy(tcp::socket& socket, const Upstream& upstream, Options& options, Stats& stats,
           FaultPolicy& policy) {
  Forwarder forwarder(upstream);
  boost::beast::flat_buffer buffer;
  while (auto request = read_request(socket, buffer, std::numeric_limits<std::uint64_t>::max())) {
    boost::beast::error_code error;
    if (is_control(std::string_view(request->target().data(), request->target().size()))) {
      Response answer = control(*request, stats, options.holds);
      write_response(socket, *request, answer, error);
      continue;
    }
    for (Hold& hold : options.holds) hold.maybe_wait(*request);
    ++stats.requests;
    const Fault fault = policy.next(*request);
    ++stats.counts[fault];
    if (fault == kResetBefore) return reset(socket);
    const std::string operation = operation_of(*request);
    stats.begin(operation);
    if (fault == kDelay) std::this_thread::sleep_for(std::chrono::milliseconds(options.delay_ms));
    Response response = (fault == kThrottle || fault == kInternal) ? error_response(*request, fault)
                                                                   : forwarder.forward(*request);
    stats.end(operation);
    if (fault == kResetAfter) return reset(socket);
    if (fault == kKeyRefused && response.result() == http::status::ok) {
      response.body() = with_key_refused(request->body(), response.body(), stats.requests);
      response.prepare_payload();
    }
    stats.record(operation, request->body().size(), response.body().size());
    write_response(socket, *request, response, error);
    if (error || !response.keep_alive()) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parse_options(argc, argv, options)) return 2;
  const Upstream upstream = parse_upstream(options.upstream_url);
  signal(SIGPIPE, SIG_IGN);
  block_stop_signals();

  Stats stats;
  FaultPolicy policy(options.rate, options.seed, parse_kinds(options.kinds));
  HttpServer server(static_cast<std::uint16_t>(options.port),
                    [&](tcp::socket& socket) { proxy(socket, upstream, options, stats, policy); });
  std::cout << "fault-proxy listening http://127.0.0.1:" << server.port() << std::endl;
  wait_for_stop_signal();
  for (Hold& hold : options.holds) hold.release();  // a held connection would keep stop() waiting
  server.stop();
  return 0;
}
