// s3-standin: an in-memory S3 for benchmarks, fast enough never to be what a benchmark measures,
// slowed down the way S3 is:
//   - first-byte latency drawn from a log-normal distribution given by its median and p99;
//   - bandwidth per connection (request and response bodies take size / bandwidth);
//   - per-prefix request rates (a token bucket per bucket/folder, one for reads, one for writes;
//     3,500 writes and 5,500 reads per second by default, as S3 documents a partitioned prefix),
//     answered beyond with 503 SlowDown; each key of a DeleteObjects counts as a write on its
//     prefix.
//
//   s3-standin [--port 0] [--threads N] [--latency-ms 20] [--p99-ms 60] [--bandwidth-mbps 0]
//              [--read-rate 5500] [--write-rate 3500] [--seed 1]
//
// Prints "s3-standin listening http://127.0.0.1:PORT" and its model, then serves path-style S3
// (bench/s3_standin/store.h) until SIGTERM or SIGINT. GET /_standin/stats answers the requests
// by operation, the bytes each way and the 503s it gave, as JSON; POST /_standin/model changes the
// model (a driver seeds at full speed, then measures); POST /_standin/seed?bucket=B&size=N puts
// each key of its body (one a line) holding N bytes, for buckets of millions of keys, and
// ...&from=KEY each holding the body of the bucket's object KEY. It checks no signature.
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/s3_standin/store.h"
#include "common/sigv4.h"

namespace standin {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct Model {
  double latency_ms = 20, p99_ms = 60;
  double bandwidth_bytes = 0;  // per connection and second; 0: unlimited
  double read_rate = 5500, write_rate = 3500;
  unsigned seed = 1;

  std::string describe(unsigned threads) const {
    const std::string bandwidth =
        bandwidth_bytes > 0 ? std::to_string(bandwidth_bytes * 8 / 1e6) + " Mbit/s a connection"
                            : "unlimited";
    char text[256];
    std::snprintf(text, sizeof text,
                  "first byte median %.1f ms p99 %.1f ms, bandwidth %s, %.0f reads/s and %.0f "
                  "writes/s per prefix (0: no limit), %u threads",
                  latency_ms, p99_ms, bandwidth.c_str(), read_rate, write_rate, threads);
    return text;
  }
};

// The model in force; a driver may change it between phases (POST /_standin/model with any of
// {"latency_ms", "p99_ms", "bandwidth_mbps", "read_rate", "write_rate"}): seeding at full speed,
// then measuring under S3's latency and limits.
class Models {
 public:
  explicit Models(Model model) : model_(model) {}
  Model get() const {
    std::lock_guard lock(mutex_);
    return model_;
  }
  void set(const boost::json::object& changes) {
    std::lock_guard lock(mutex_);
    const auto number = [&](const char* name, double& field, double scale = 1) {
      if (const auto* value = changes.if_contains(name)) field = value->to_number<double>() * scale;
    };
    number("latency_ms", model_.latency_ms);
    number("p99_ms", model_.p99_ms);
    number("bandwidth_mbps", model_.bandwidth_bytes, 1e6 / 8);
    number("read_rate", model_.read_rate);
    number("write_rate", model_.write_rate);
    model_.p99_ms = std::max(model_.p99_ms, model_.latency_ms);
  }

 private:
  mutable std::mutex mutex_;
  Model model_;
};

// A token bucket per prefix and kind; a bucket holds a second's worth, as S3 absorbs short bursts.
// A request takes what it needs from every prefix it touches, or nothing: one refused costs no
// tokens (a throttled DeleteObjects deletes nothing, and is sent again whole).
class RateLimits {
 public:
  bool take(const Model& model, const std::vector<std::string>& prefixes, bool write) {
    const double rate = write ? model.write_rate : model.read_rate;
    if (rate <= 0) return true;
    std::map<std::string, double> needed;
    for (const auto& prefix : prefixes) needed[(write ? "w " : "r ") + prefix] += 1;
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    std::vector<Tokens*> buckets;
    bool enough = true;
    for (const auto& [name, count] : needed) {
      auto [it, fresh] = buckets_.try_emplace(name, Tokens{rate, now});
      Tokens& tokens = it->second;
      if (!fresh) {
        const std::chrono::duration<double> passed = now - tokens.at;
        tokens.count = std::min(rate, tokens.count + passed.count() * rate);
        tokens.at = now;
      }
      // More than a second's worth at once can never be had: it waits for a full bucket.
      enough = enough && tokens.count >= std::min(count, rate);
      buckets.push_back(&tokens);
    }
    if (!enough) return false;
    std::size_t i = 0;
    for (const auto& [name, count] : needed) buckets[i++]->count -= std::min(count, rate);
    return true;
  }

 private:
  struct Tokens {
    double count;
    std::chrono::steady_clock::time_point at;
  };
  std::mutex mutex_;
  std::map<std::string, Tokens> buckets_;
};

// By operation: {"count", "bytes_received", "bytes_sent", "slow_down"} (received: request
// bodies; sent: response bodies), the shape fault-proxy's stats have, and "most_in_flight": the
// most requests of the operation it held at once (read, not yet answered) since the stats were
// last read, so a driver reading them before and after a phase has the phase's.
class Stats {
 public:
  void begin(const std::string& operation) {
    std::lock_guard lock(mutex_);
    Traffic& traffic = operations_[operation];
    traffic.most_in_flight = std::max(traffic.most_in_flight, ++traffic.in_flight);
  }
  void end(const std::string& operation) {
    std::lock_guard lock(mutex_);
    --operations_[operation].in_flight;
  }
  void count(const std::string& operation, std::size_t in, std::size_t out, bool throttled) {
    std::lock_guard lock(mutex_);
    Traffic& traffic = operations_[operation];
    ++traffic.count;
    traffic.received += in;
    traffic.sent += out;
    traffic.slow_down += throttled ? 1 : 0;
  }
  std::string json(const std::string& model) {
    std::lock_guard lock(mutex_);
    boost::json::object operations;
    for (auto& [name, traffic] : operations_) {
      operations[name] = {{"count", traffic.count},
                          {"bytes_received", traffic.received},
                          {"bytes_sent", traffic.sent},
                          {"slow_down", traffic.slow_down},
                          {"most_in_flight", traffic.most_in_flight}};
      traffic.most_in_flight = traffic.in_flight;
    }
    return boost::json::serialize(
        boost::json::object{{"operations", operations}, {"model", model}});
  }

 private:
  struct Traffic {
    std::uint64_t count = 0, received = 0, sent = 0, slow_down = 0;
    std::uint64_t in_flight = 0, most_in_flight = 0;
  };
  std::mutex mutex_;
  std::map<std::string, Traffic> operations_;
};

struct Shared {
  Shared(Model model, unsigned thread_count) : models(model), threads(thread_count) {}
  Models models;
  unsigned threads;
  Store store;
  RateLimits limits;
  Stats stats;
  std::atomic<unsigned> sessions{0};
};

// Path-style: /BUCKET/KEY?QUERY, each part percent-decoded.
Request to_request(const http::request<http::string_body>& message) {
  Request request;
  request.method = std::string(message.method_string());
  const std::string target(message.target());
  const auto question = target.find('?');
  const std::string path = common::url_decode(target.substr(0, question));
  const auto slash = path.find('/', 1);
  request.bucket = path.substr(1, slash == std::string::npos ? std::string::npos : slash - 1);
  if (slash != std::string::npos) request.key = path.substr(slash + 1);
  if (question != std::string::npos) {
    std::string query = target.substr(question + 1);
    std::size_t start = 0;
    while (start <= query.size()) {
      const auto end = std::min(query.find('&', start), query.size());
      const std::string pair = query.substr(start, end - start);
      if (!pair.empty()) {
        const auto equals = pair.find('=');
        request.query[common::url_decode(pair.substr(0, equals), true)] =
            equals == std::string::npos ? "" : common::url_decode(pair.substr(equals + 1), true);
      }
      start = end + 1;
    }
  }
  for (const auto& field : message) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    request.headers.emplace_back(name, std::string(field.value()));
  }
  request.body = message.body();
  return request;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Shared& shared)
      : stream_(std::move(socket)),
        timer_(stream_.get_executor()),
        shared_(shared),
        random_(shared.models.get().seed + shared.sessions++) {}

  void start() { read(); }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(boost::none);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code error, std::size_t) {
                              if (!error) self->read_body();
                            });
  }

  void read_body() {
    if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
      auto continue_ =
          std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      http::async_write(
          stream_, *continue_,
          [self = shared_from_this(), continue_](beast::error_code error, std::size_t) {
            if (!error) self->read_rest();
          });
      return;
    }
    read_rest();
  }

  void read_rest() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code error, std::size_t) {
                       if (!error) self->answer(self->parser_->release());
                     });
  }

  void answer(http::request<http::string_body> message) {
    const bool keep_alive = message.keep_alive();
    Response response;
    std::string operation = "Stats";
    std::string answering;  // an S3 operation, counted in flight until answered
    const Model model = shared_.models.get();
    if (message.target() == "/_standin/stats") {
      response.body = shared_.stats.json(model.describe(shared_.threads));
      response.headers.emplace_back("Content-Type", "application/json");
    } else if (message.target() == "/_standin/model" && message.method() == http::verb::post) {
      boost::system::error_code failed;
      const auto changes = boost::json::parse(message.body(), failed);
      if (failed || !changes.is_object()) {
        response = error(400, "InvalidRequest", "a JSON object of model fields");
      } else {
        shared_.models.set(changes.get_object());
        response.body = shared_.models.get().describe(shared_.threads);
      }
    } else if (message.target().starts_with("/_standin/seed?") &&
               message.method() == http::verb::post) {
      response = seed(message);
    } else {
      const Request request = to_request(message);
      const Classified what = classify(request);
      operation = what.operation;
      shared_.stats.begin(operation);
      answering = operation;
      const bool allowed = shared_.limits.take(model, what.prefixes, what.write);
      response = allowed ? shared_.store.handle(request)
                         : error(503, "SlowDown", "Please reduce your request rate.");
      shared_.stats.count(operation, request.body.size(), response.body.size(), !allowed);
    }
    send(std::move(response), model, keep_alive, message.body().size(), operation == "Stats",
         std::move(answering));
  }

  // POST /_standin/seed?bucket=NAME&size=BYTES with one key a line: each key put holding BYTES,
  // or with &from=KEY holding the body of the object KEY.
  Response seed(const http::request<http::string_body>& message) {
    const Request target = to_request(message);  // the query, decoded
    const std::string bucket = target.query.contains("bucket") ? target.query.at("bucket") : "";
    const std::string size = target.query.contains("size") ? target.query.at("size") : "0";
    if (bucket.empty() || size.find_first_not_of("0123456789") != std::string::npos)
      return error(400, "InvalidRequest", "seed?bucket=NAME&size=BYTES");
    std::vector<std::string> keys;
    std::string_view body = message.body();
    for (std::size_t start = 0; start < body.size();) {
      std::size_t end = body.find('\n', start);
      if (end == std::string_view::npos) end = body.size();
      if (end > start) keys.emplace_back(body.substr(start, end - start));
      start = end + 1;
    }
    if (target.query.contains("from")) {
      if (!shared_.store.seed_from(bucket, keys, target.query.at("from")))
        return error(404, "NoSuchKey", "seed: no object " + target.query.at("from") + " to copy");
    } else {
      shared_.store.seed(bucket, keys, std::stoull(size));
    }
    Response response;
    response.body = std::to_string(keys.size()) + " keys\n";
    return response;
  }

  double delay_seconds(const Model& model, std::size_t bytes) {
    double delay = 0;
    if (model.latency_ms > 0) {
      const double sigma =
          std::log(std::max(model.p99_ms, model.latency_ms) / model.latency_ms) / 2.326;
      delay = model.latency_ms / 1000 * std::exp(sigma * normal_(random_));
    }
    if (model.bandwidth_bytes > 0) delay += static_cast<double>(bytes) / model.bandwidth_bytes;
    return delay;
  }

  void send(Response response, const Model& model, bool keep_alive, std::size_t request_bytes,
            bool immediate, std::string answering) {
    auto message = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), 11);
    for (const auto& [name, value] : response.headers) message->set(name, value);
    message->set(http::field::server, "s3-standin");
    message->keep_alive(keep_alive);
    const std::size_t body_bytes = response.body.size();
    message->body() = std::move(response.body);
    message->prepare_payload();
    if (response.head) message->content_length(response.content_length);
    const bool head = response.head;
    const double delay = immediate ? 0 : delay_seconds(model, request_bytes + body_bytes);
    timer_.expires_after(std::chrono::microseconds(static_cast<long long>(delay * 1e6)));
    timer_.async_wait([self = shared_from_this(), message, keep_alive, head,
                       answering = std::move(answering)](beast::error_code) {
      if (!answering.empty()) self->shared_.stats.end(answering);
      if (head) {
        // The header alone, with the object's Content-Length.
        auto serializer = std::make_shared<http::response_serializer<http::string_body>>(*message);
        http::async_write_header(
            self->stream_, *serializer,
            [self, serializer, message, keep_alive](beast::error_code error, std::size_t) {
              self->after_write(error, keep_alive);
            });
        return;
      }
      http::async_write(self->stream_, *message,
                        [self, message, keep_alive](beast::error_code error, std::size_t) {
                          self->after_write(error, keep_alive);
                        });
    });
  }

  void after_write(beast::error_code error, bool keep_alive) {
    if (error || !keep_alive) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    read();
  }

  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Shared& shared_;
  std::mt19937_64 random_;
  std::normal_distribution<double> normal_{0, 1};
};

void accept(tcp::acceptor& acceptor, Shared& shared) {
  acceptor.async_accept([&acceptor, &shared](beast::error_code error, tcp::socket socket) {
    if (!error) {
      socket.set_option(tcp::no_delay(true));
      std::make_shared<Session>(std::move(socket), shared)->start();
    }
    if (acceptor.is_open()) accept(acceptor, shared);
  });
}

[[noreturn]] void usage(const std::string& message) {
  std::cerr << "s3-standin: " << message
            << "\nusage: s3-standin [--port 0] [--threads N] [--latency-ms 20] [--p99-ms 60]\n"
               "                  [--bandwidth-mbps 0] [--read-rate 5500] [--write-rate 3500] "
               "[--seed 1]\n";
  std::exit(2);
}

}  // namespace
}  // namespace standin

int main(int argc, char** argv) {
  using namespace standin;
  Model model;
  unsigned short port = 0;
  unsigned threads = std::max(2u, std::thread::hardware_concurrency());
  for (int i = 1; i < argc; ++i) {
    const std::string name = argv[i];
    if (i + 1 >= argc) usage(name + " needs a value");
    const double value = std::stod(argv[++i]);
    if (name == "--port")
      port = static_cast<unsigned short>(value);
    else if (name == "--threads")
      threads = static_cast<unsigned>(value);
    else if (name == "--latency-ms")
      model.latency_ms = value;
    else if (name == "--p99-ms")
      model.p99_ms = value;
    else if (name == "--bandwidth-mbps")
      model.bandwidth_bytes = value * 1e6 / 8;
    else if (name == "--read-rate")
      model.read_rate = value;
    else if (name == "--write-rate")
      model.write_rate = value;
    else if (name == "--seed")
      model.seed = static_cast<unsigned>(value);
    else
      usage("unknown option " + name);
  }
  if (model.latency_ms > 0 && model.p99_ms < model.latency_ms)
    usage("--p99-ms is below --latency-ms");
  auto shared = std::make_unique<Shared>(model, threads);
  boost::asio::io_context io(static_cast<int>(threads));
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), port});
  accept(acceptor, *shared);
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](auto, int) { io.stop(); });
  std::printf("s3-standin listening http://127.0.0.1:%u\n", acceptor.local_endpoint().port());
  std::printf("s3-standin model: %s\n", model.describe(threads).c_str());
  std::fflush(stdout);
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back([&] { io.run(); });
  io.run();
  for (auto& thread : pool) thread.join();
  return 0;
}
