#include "devtools/http_sink/sink.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "common/gzip.h"

namespace devtools {

namespace json = boost::json;

namespace {

constexpr std::uint64_t kBodyLimit = 256ull << 20;

Response answer(http::status status, const Request& request, std::string body) {
  return make_response(status, request, std::move(body), "text/plain");
}

}  // namespace

HttpSink::HttpSink(std::uint16_t port, SinkFaults faults, std::string token)
    : faults_(faults), token_(std::move(token)), random_(faults.seed) {
  server_ = std::make_unique<HttpServer>(port, [this](tcp::socket& socket) { serve(socket); });
}

HttpSink::~HttpSink() {
  server_->stop();
}

std::string HttpSink::url() const {
  return "http://127.0.0.1:" + std::to_string(port());
}

SinkStats HttpSink::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

std::string HttpSink::stats_json() const {
  const SinkStats s = stats();
  json::object faults;
  for (const auto& [kind, count] : s.faults) faults[kind] = count;
  std::uint64_t distinct = s.ids.size();
  return json::serialize(json::object{{"requests", s.requests},
                                      {"accepted_batches", s.accepted_batches},
                                      {"distinct_batches", distinct},
                                      {"lines", s.lines},
                                      {"duplicate_batches", s.duplicate_batches},
                                      {"distinct_lines", s.distinct_lines},
                                      {"changed_duplicates", s.changed_duplicates},
                                      {"bad_batches", s.bad_batches},
                                      {"unauthorised", s.unauthorised},
                                      {"faults", std::move(faults)}});
}

void HttpSink::serve(tcp::socket& socket) {
  boost::beast::flat_buffer buffer;
  while (auto request = read_request(socket, buffer, kBodyLimit)) {
    std::optional<Response> response;
    if (request->method() == http::verb::get && request->target().starts_with("/_sink/stats")) {
      response = make_response(http::status::ok, *request, stats_json());
    } else {
      response = take(*request);
    }
    if (!response) {  // a reset: the client sees its connection closed without an answer
      boost::system::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
      return;
    }
    boost::beast::error_code error;
    http::write(socket, *response, error);
    if (error || !response->keep_alive()) return;
  }
}

std::optional<std::string> HttpSink::fault() {
  std::vector<std::string> kinds;
  if (faults_.too_many_requests) kinds.emplace_back("429");
  if (faults_.unavailable) kinds.emplace_back("503");
  if (faults_.slow) kinds.emplace_back("slow");
  if (faults_.reset) kinds.emplace_back("reset");
  std::lock_guard lock(mutex_);
  ++stats_.requests;
  if (kinds.empty() || std::uniform_real_distribution<double>(0, 1)(random_) >= faults_.rate)
    return std::nullopt;
  std::string kind =
      kinds[std::uniform_int_distribution<std::size_t>(0, kinds.size() - 1)(random_)];
  ++stats_.faults[kind];
  return kind;
}

std::optional<Response> HttpSink::take(const Request& request) {
  const auto kind = fault();
  if (kind == "reset") return std::nullopt;
  if (kind == "429") {
    Response response = answer(http::status::too_many_requests, request, "slow down\n");
    response.set(http::field::retry_after, "1");
    return response;
  }
  if (kind == "503") return answer(http::status::service_unavailable, request, "try later\n");
  if (kind == "slow") std::this_thread::sleep_for(std::chrono::milliseconds(faults_.slow_ms));

  if (!token_.empty() && request[http::field::authorization] != "Bearer " + token_) {
    std::lock_guard lock(mutex_);
    ++stats_.unauthorised;
    return answer(http::status::unauthorized, request, "no valid token\n");
  }
  if (faults_.refuses_gzip && request[http::field::content_encoding] == "gzip") {
    std::lock_guard lock(mutex_);
    ++stats_.faults["415"];
    return answer(http::status::unsupported_media_type, request, "no gzip here\n");
  }
  const std::string id(request["X-Batch-Id"]);
  std::string body = request.body();
  bool bad = id.empty();
  if (!bad && request[http::field::content_encoding] == "gzip") {
    try {
      body = common::gunzip(body);
    } catch (const std::exception&) {
      bad = true;
    }
  }
  bad = bad || body.empty() || body.back() != '\n';
  std::uint64_t lines = 0;
  for (char c : body) lines += c == '\n';
  std::lock_guard lock(mutex_);
  if (bad) {
    ++stats_.bad_batches;
    return answer(http::status::bad_request, request,
                  "a batch needs X-Batch-Id and NDJSON lines\n");
  }
  ++stats_.accepted_batches;
  stats_.lines += lines;
  const std::size_t digest = std::hash<std::string>{}(body);
  if (stats_.ids[id]++ > 0) {
    ++stats_.duplicate_batches;
    stats_.changed_duplicates += digests_[id] != digest;
  } else {
    stats_.distinct_lines += lines;
    digests_[id] = digest;
  }
  return answer(http::status::ok, request, "ok\n");
}

}  // namespace devtools
