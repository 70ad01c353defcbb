#pragma once
// Bodies delivered to HTTP ingestion endpoints (LogForwarder's batches): round-robin over the
// endpoints, a bounded number of requests in flight to each (a caller with more to send waits:
// the endpoints' answers are the backpressure), retries with full-jitter backoff on 408, 429, 5xx,
// resets and timeouts, Retry-After honoured, and an endpoint that keeps failing rests out of the
// rotation for a while. A body no endpoint takes before its deadline, or that one refuses outright
// (another 4xx), fails with the reason. An endpoint that answers 415 to a gzip body is sent
// plain bodies from then on. Delivery is at least once: an answer lost after the
// endpoint took the body sends it again, under the same id.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/aws_client.h"
#include "common/http.h"

namespace common {

struct DeliveryOptions {
  std::vector<std::string> urls;
  std::size_t in_flight_per_endpoint = 4;
  int failures_to_rest = 3;  // in a row
  std::chrono::milliseconds rest{30000};
  RetryPolicy retry;   // its backoff; the deadline, not max_attempts, bounds the tries
  HeaderList headers;  // on every request (an auth token: never logged)
  bool gzip = true;    // Content-Encoding: gzip, at zlib's level 1, to each endpoint that takes it
};

struct DeliveryStats {
  std::uint64_t delivered = 0;
  std::uint64_t failed = 0;
  std::uint64_t bytes = 0;                       // of the bodies delivered, as sent
  std::map<std::string, std::uint64_t> retries;  // by cause: "429", "5xx", "408", "transport"
  std::vector<std::uint64_t> endpoint_errors;    // by endpoint, in the order of urls
};

class HttpDelivery {
 public:
  // nullopt once an endpoint answered 2xx, else why the body was given up.
  using Done = std::function<void(std::optional<std::string> failure)>;

  HttpDelivery(HttpEngine& engine, DeliveryOptions options);
  ~HttpDelivery();  // waits for every body under way
  HttpDelivery(const HttpDelivery&) = delete;
  HttpDelivery& operator=(const HttpDelivery&) = delete;

  // Blocks while every endpoint has its requests in flight. `id` goes out as X-Batch-Id; `done`
  // runs on the engine's thread, so it must be quick.
  void send(std::string body, std::string id, std::chrono::steady_clock::time_point deadline,
            Done done);
  // Until every body sent has its answer.
  void wait();
  DeliveryStats stats() const;

 private:
  struct Job;
  struct Endpoint {
    std::string url;
    std::size_t in_flight = 0;
    int failures_in_a_row = 0;
    std::chrono::steady_clock::time_point resting_until{};
    bool plain = false;  // answered 415 to a gzip body: sent plain bodies since
  };

  void attempt(const std::shared_ptr<Job>& job);
  void answered(const std::shared_ptr<Job>& job, std::size_t endpoint, HttpResponse&& response);
  void retry_later(const std::shared_ptr<Job>& job, const std::string& cause,
                   std::chrono::milliseconds at_least);
  void finish(const std::shared_ptr<Job>& job, std::optional<std::string> failure);
  std::optional<std::size_t> pick_endpoint(std::chrono::steady_clock::time_point now);

  HttpEngine& engine_;
  DeliveryOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Endpoint> endpoints_;
  std::size_t next_ = 0;
  std::size_t unfinished_ = 0;
  DeliveryStats stats_;
};

}  // namespace common
