// Batches delivered to ingestion endpoints (common/http_delivery.h) against the local sink
// (devtools/http_sink), which counts what arrives by batch id: every body once when the sink
// misbehaves, the rotation around an endpoint that is down, refusals and deadlines.
#include "common/http_delivery.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "devtools/http_sink/sink.h"

namespace {

using Clock = std::chrono::steady_clock;

// Fast retries: the tests wait for seconds, not the production backoff.
common::DeliveryOptions options_for(std::vector<std::string> urls) {
  common::DeliveryOptions options;
  options.urls = std::move(urls);
  options.retry.base_delay = std::chrono::milliseconds(5);
  options.retry.throttling_base_delay = std::chrono::milliseconds(10);
  options.retry.max_backoff = std::chrono::milliseconds(200);
  options.rest = std::chrono::milliseconds(300);
  return options;
}

// A port nothing listens on: bound, then closed.
std::string closed_port_url() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const auto port = acceptor.local_endpoint().port();
  acceptor.close();
  return "http://127.0.0.1:" + std::to_string(port) + "/ingest";
}

struct Outcome {
  std::atomic<int> delivered{0};
  std::atomic<int> failed{0};
  std::mutex mutex;
  std::vector<std::string> failures;
};

void send_batches(common::HttpDelivery& delivery, int count, Outcome& outcome,
                  Clock::duration within = std::chrono::seconds(60)) {
  for (int i = 0; i < count; ++i) {
    std::string body;
    for (int line = 0; line < 10; ++line)
      body += "{\"batch\":" + std::to_string(i) + ",\"line\":" + std::to_string(line) + "}\n";
    delivery.send(body, "object:" + std::to_string(i), Clock::now() + within,
                  [&outcome](std::optional<std::string> failure) {
                    if (!failure) {
                      ++outcome.delivered;
                      return;
                    }
                    ++outcome.failed;
                    std::lock_guard lock(outcome.mutex);
                    outcome.failures.push_back(*failure);
                  });
  }
  delivery.wait();
}

TEST(HttpDelivery, EveryBatchArrivesOnceWithItsIdAndToken) {
  devtools::HttpSink sink(0, {}, "t0ken");
  common::HttpEngine engine;
  auto options = options_for({sink.url() + "/ingest"});
  options.headers.emplace_back("authorization", "Bearer t0ken");
  Outcome outcome;
  {
    common::HttpDelivery delivery(engine, options);
    send_batches(delivery, 200, outcome);
    EXPECT_EQ(delivery.stats().delivered, 200u);
  }
  EXPECT_EQ(outcome.delivered, 200);
  const auto stats = sink.stats();
  EXPECT_EQ(stats.ids.size(), 200u);
  EXPECT_EQ(stats.lines, 2000u);
  EXPECT_EQ(stats.duplicate_batches, 0u);
  EXPECT_EQ(stats.bad_batches, 0u) << "gzip-encoded NDJSON with X-Batch-Id";
}

TEST(HttpDelivery, ThrottlingUnavailabilityAndResetsLoseNothing) {
  devtools::SinkFaults faults;
  faults.rate = 0.3;
  faults.slow = false;
  devtools::HttpSink sink(0, faults);
  common::HttpEngine engine;
  auto options = options_for({sink.url()});
  options.in_flight_per_endpoint = 16;  // a 429 holds its place for Retry-After's second
  common::HttpDelivery delivery(engine, options);
  Outcome outcome;
  send_batches(delivery, 200, outcome);
  EXPECT_EQ(outcome.delivered, 200) << ::testing::PrintToString(outcome.failures);
  const auto sink_stats = sink.stats();
  EXPECT_EQ(sink_stats.ids.size(), 200u) << "every batch arrived";
  const auto count = [](const std::map<std::string, std::uint64_t>& counts, const char* key) {
    const auto found = counts.find(key);
    return found == counts.end() ? std::uint64_t{0} : found->second;
  };
  EXPECT_GT(count(sink_stats.faults, "429") + count(sink_stats.faults, "503") +
                count(sink_stats.faults, "reset"),
            30u);
  const auto stats = delivery.stats();
  EXPECT_GT(count(stats.retries, "429"), 0u);
  EXPECT_GT(count(stats.retries, "5xx"), 0u);
  // A reset of a reused connection may be sent again by libcurl itself before it is ours to
  // retry: what counts is that the sink reset some and every batch arrived.
  EXPECT_GT(count(sink_stats.faults, "reset"), 0u);
}

TEST(HttpDelivery, AnEndpointThatIsDownRestsAndTheOtherTakesEverything) {
  devtools::HttpSink sink(0, {});
  common::HttpEngine engine;
  common::HttpDelivery delivery(engine, options_for({closed_port_url(), sink.url()}));
  Outcome outcome;
  send_batches(delivery, 200, outcome);
  EXPECT_EQ(outcome.delivered, 200);
  EXPECT_EQ(sink.stats().ids.size(), 200u);
  const auto stats = delivery.stats();
  EXPECT_GT(stats.endpoint_errors[0], 0u);
  EXPECT_LT(stats.endpoint_errors[0], 60u) << "it rests after failing, not tried for every batch";
  EXPECT_EQ(stats.endpoint_errors[1], 0u);
}

TEST(HttpDelivery, ARefusalIsNotRetriedAndNamesTheStatus) {
  devtools::HttpSink sink(0, {}, "expected-token");
  common::HttpEngine engine;
  common::HttpDelivery delivery(engine, options_for({sink.url()}));
  Outcome outcome;
  send_batches(delivery, 3, outcome);
  EXPECT_EQ(outcome.failed, 3);
  EXPECT_EQ(outcome.failures.at(0), "endpoint 1 refused it: HTTP 401");
  EXPECT_EQ(sink.stats().unauthorised, 3u) << "one try each";
}

// "Gzip request bodies when the endpoint accepts it": one that answers 415 to a gzip body is
// sent plain from then on; the other keeps getting gzip.
TEST(HttpDelivery, AnEndpointThatRefusesGzipIsSentPlainBodies) {
  devtools::SinkFaults plain_only;
  plain_only.refuses_gzip = true;
  devtools::HttpSink takes_plain(0, plain_only), takes_gzip(0, {});
  common::HttpEngine engine;
  common::HttpDelivery delivery(engine, options_for({takes_plain.url(), takes_gzip.url()}));
  Outcome outcome;
  send_batches(delivery, 20, outcome);
  delivery.wait();
  EXPECT_EQ(outcome.delivered, 20);
  EXPECT_EQ(outcome.failed, 0);
  const auto plain = takes_plain.stats(), gzip = takes_gzip.stats();
  EXPECT_EQ(plain.distinct_lines + gzip.distinct_lines, 200u);
  EXPECT_GT(plain.accepted_batches, 0u) << "it takes plain bodies";
  EXPECT_LE(plain.faults.at("415"), 4u) << "only the requests in flight when it first refused";
  EXPECT_FALSE(gzip.faults.contains("415"));
  EXPECT_EQ(delivery.stats().failed, 0u);
}

TEST(HttpDelivery, ABatchNoEndpointTakesBeforeItsDeadlineFailsThen) {
  devtools::SinkFaults faults;
  faults.rate = 1;
  faults.too_many_requests = faults.slow = faults.reset = false;  // always 503
  devtools::HttpSink sink(0, faults);
  common::HttpEngine engine;
  common::HttpDelivery delivery(engine, options_for({sink.url()}));
  Outcome outcome;
  const auto started = Clock::now();
  send_batches(delivery, 2, outcome, std::chrono::seconds(2));
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(4));
  EXPECT_EQ(outcome.failed, 2);
  EXPECT_NE(outcome.failures.at(0).find("deadline"), std::string::npos) << outcome.failures.at(0);
}

}  // namespace
