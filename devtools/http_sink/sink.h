#pragma once
// A local HTTP ingestion endpoint for tests and benchmarks of LogForwarder: it takes NDJSON
// batches (gzip-encoded or not) on any path, counts their lines, keeps each batch id
// (X-Batch-Id) to tell a batch sent twice from a lost one, and misbehaves on request as ingestion
// endpoints do on a bad day: 429 with Retry-After, 503, a slow answer, a connection reset.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>

#include "devtools/lambda_local/http_server.h"

namespace devtools {

struct SinkFaults {
  double rate = 0;  // share of batches answered with a fault, drawn among the kinds below
  bool too_many_requests = true;  // 429, Retry-After: 1
  bool unavailable = true;        // 503
  bool slow = true;               // answered after slow_ms, then accepted
  bool reset = true;              // the connection closed without an answer
  bool refuses_gzip = false;      // a gzip body is answered 415, as an endpoint without it does
  int slow_ms = 2000;
  std::uint32_t seed = 1;
};

struct SinkStats {
  std::uint64_t requests = 0;
  std::uint64_t accepted_batches = 0;    // answered 200
  std::uint64_t lines = 0;               // in accepted batches, repeats included
  std::uint64_t duplicate_batches = 0;   // accepted with an id accepted before
  std::uint64_t distinct_lines = 0;      // in the first acceptance of each id
  std::uint64_t changed_duplicates = 0;  // an id accepted before, with other lines this time
  std::uint64_t bad_batches = 0;         // no id, not gzip as announced, not NDJSON lines
  std::uint64_t unauthorised = 0;
  std::map<std::string, std::uint64_t> faults;  // by kind
  std::map<std::string, std::uint64_t> ids;     // accepted batch id -> times accepted
};

class HttpSink {
 public:
  // Binds 127.0.0.1:port (0: any free port). With a token, a batch without
  // "Authorization: Bearer <token>" is answered 401.
  HttpSink(std::uint16_t port, SinkFaults faults, std::string token = "");
  ~HttpSink();

  std::uint16_t port() const { return server_->port(); }
  std::string url() const;
  SinkStats stats() const;
  // The same as JSON, as GET /_sink/stats answers.
  std::string stats_json() const;
  void stop() { server_->stop(); }

 private:
  void serve(tcp::socket& socket);
  // The answer to a batch, or nullopt to reset the connection.
  std::optional<Response> take(const Request& request);
  std::optional<std::string> fault();

  SinkFaults faults_;
  std::string token_;
  mutable std::mutex mutex_;
  SinkStats stats_;
  std::map<std::string, std::size_t> digests_;  // accepted batch id -> hash of its lines
  std::mt19937 random_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace devtools
