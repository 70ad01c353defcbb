#include "common/http_delivery.h"

#include <algorithm>
#include <charconv>

#include "common/gzip.h"

namespace common {

using Clock = std::chrono::steady_clock;

namespace {

// Retry-After in seconds (its HTTP-date form is left to the backoff).
std::chrono::milliseconds retry_after(const HttpResponse& response) {
  const std::string text = response.header("retry-after");
  long seconds = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (error != std::errc() || end != text.data() + text.size() || seconds < 0) return {};
  return std::chrono::seconds(std::min(seconds, 3600L));
}

// Why an answer is worth another try, or nullopt for one no retry changes.
std::optional<std::string> retry_cause(const HttpResponse& response) {
  if (response.transport_failed()) return "transport";
  if (response.status == 429 || response.status == 408) return std::to_string(response.status);
  if (response.status >= 500) return "5xx";
  return std::nullopt;
}

}  // namespace

struct HttpDelivery::Job {
  std::string body;
  std::string plain_body;  // made once, for an endpoint that takes no gzip
  bool sent_compressed = false;
  std::string id;
  Clock::time_point deadline;
  Done done;
  int tries = 0;
  std::string last_cause;
};

HttpDelivery::HttpDelivery(HttpEngine& engine, DeliveryOptions options)
    : engine_(engine), options_(std::move(options)) {
  for (const auto& url : options_.urls) endpoints_.push_back(Endpoint{url});
  stats_.endpoint_errors.assign(endpoints_.size(), 0);
}

HttpDelivery::~HttpDelivery() {
  wait();
}

void HttpDelivery::send(std::string body, std::string id, Clock::time_point deadline, Done done) {
  auto job = std::make_shared<Job>();
  job->body = options_.gzip ? gzip(body, 1) : std::move(body);
  job->id = std::move(id);
  job->deadline = deadline;
  job->done = std::move(done);
  {
    // A body waiting for its retry holds its place too: memory stays bounded.
    std::unique_lock lock(mutex_);
    const std::size_t capacity = endpoints_.size() * options_.in_flight_per_endpoint;
    changed_.wait(lock, [&] { return unfinished_ < capacity; });
    ++unfinished_;
  }
  attempt(job);
}

void HttpDelivery::wait() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return unfinished_ == 0; });
}

DeliveryStats HttpDelivery::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

std::optional<std::size_t> HttpDelivery::pick_endpoint(Clock::time_point now) {
  for (std::size_t looked = 0; looked < endpoints_.size(); ++looked) {
    const std::size_t index = (next_ + looked) % endpoints_.size();
    Endpoint& endpoint = endpoints_[index];
    if (endpoint.resting_until > now || endpoint.in_flight >= options_.in_flight_per_endpoint)
      continue;
    next_ = index + 1;
    return index;
  }
  return std::nullopt;
}

void HttpDelivery::attempt(const std::shared_ptr<Job>& job) {
  std::optional<std::size_t> chosen;
  std::chrono::milliseconds until_one_wakes{50};
  bool compressed = options_.gzip;
  {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    chosen = pick_endpoint(now);
    if (chosen) {
      ++endpoints_[*chosen].in_flight;
      compressed = compressed && !endpoints_[*chosen].plain;
    } else {
      auto soonest = Clock::time_point::max();
      for (const auto& endpoint : endpoints_)
        soonest = std::min(soonest, std::max(endpoint.resting_until, now));
      until_one_wakes = std::max(
          until_one_wakes, std::chrono::duration_cast<std::chrono::milliseconds>(soonest - now));
    }
  }
  if (!chosen) {
    // Every endpoint rests (or is full): not a try of this body.
    if (Clock::now() + until_one_wakes > job->deadline) {
      return finish(job, "every endpoint was resting after failures (" + job->last_cause +
                             ") until the deadline");
    }
    return engine_.run_after(until_one_wakes, [this, job] { attempt(job); });
  }
  ++job->tries;
  HttpRequest request;
  request.method = "POST";
  request.url = endpoints_[*chosen].url;
  request.headers = options_.headers;
  request.headers.emplace_back("content-type", "application/x-ndjson");
  if (compressed) request.headers.emplace_back("content-encoding", "gzip");
  job->sent_compressed = compressed;
  request.headers.emplace_back("x-batch-id", job->id);
  const bool plain = options_.gzip && !compressed;  // the body was gzipped in send()
  if (plain && job->plain_body.empty()) job->plain_body = gunzip(job->body);
  request.body = plain ? job->plain_body : job->body;
  const std::size_t endpoint = *chosen;
  engine_.submit(std::move(request), [this, job, endpoint](HttpResponse&& response) {
    answered(job, endpoint, std::move(response));
  });
}

void HttpDelivery::answered(const std::shared_ptr<Job>& job, std::size_t index,
                            HttpResponse&& response) {
  const bool ok = !response.transport_failed() && response.status >= 200 && response.status < 300;
  const auto cause = ok ? std::nullopt : retry_cause(response);
  bool refused_gzip = false;
  {
    std::lock_guard lock(mutex_);
    Endpoint& endpoint = endpoints_[index];
    --endpoint.in_flight;
    // Each request in flight when it first said so is refused too: each goes again, plain.
    refused_gzip = response.status == 415 && job->sent_compressed;
    endpoint.plain = endpoint.plain || refused_gzip;
    if (ok) {
      endpoint.failures_in_a_row = 0;
      stats_.bytes +=
          options_.gzip && !job->sent_compressed ? job->plain_body.size() : job->body.size();
    } else {
      ++stats_.endpoint_errors[index];
      if (cause && ++endpoint.failures_in_a_row >= options_.failures_to_rest) {
        endpoint.resting_until = Clock::now() + options_.rest;
        endpoint.failures_in_a_row = 0;
      }
    }
  }
  changed_.notify_all();
  if (ok) return finish(job, std::nullopt);
  if (refused_gzip) return attempt(job);  // not a failure of the body: it goes plain now
  if (!cause) {
    return finish(job, "endpoint " + std::to_string(index + 1) + " refused it: HTTP " +
                           std::to_string(response.status));
  }
  retry_later(job, *cause, retry_after(response));
}

void HttpDelivery::retry_later(const std::shared_ptr<Job>& job, const std::string& cause,
                               std::chrono::milliseconds at_least) {
  job->last_cause = cause;
  const auto delay = std::max(at_least, options_.retry.backoff(job->tries, cause == "429"));
  if (Clock::now() + delay > job->deadline) {
    return finish(job, "no endpoint took it before the deadline (" + std::to_string(job->tries) +
                           " tries, the last: " + cause + ")");
  }
  {
    std::lock_guard lock(mutex_);
    ++stats_.retries[cause];
  }
  engine_.run_after(delay, [this, job] { attempt(job); });
}

void HttpDelivery::finish(const std::shared_ptr<Job>& job, std::optional<std::string> failure) {
  Done done = std::move(job->done);
  {
    std::lock_guard lock(mutex_);
    ++(failure ? stats_.failed : stats_.delivered);
  }
  if (done) done(std::move(failure));
  {
    std::lock_guard lock(mutex_);
    --unfinished_;
  }
  changed_.notify_all();
}

}  // namespace common
