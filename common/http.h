#pragma once
// One HTTP engine per process on libcurl's multi interface: a single thread drives every
// transfer, connections are pooled and reused (at most N per host), and many requests are in
// flight at once. Bodies can stream from a BodySource and into a callback, so a large object
// never has to sit whole in memory. TLS peers are always verified.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/sigv4.h"

namespace common {

// A request body read in pieces. rewind() returns false when the bytes cannot be produced again
// (a request with such a body is never retried blindly).
class BodySource {
 public:
  virtual ~BodySource() = default;
  virtual std::size_t read(char* buffer, std::size_t size) = 0;  // 0 at the end
  virtual bool rewind() = 0;
  virtual std::uint64_t size() const = 0;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  HeaderList headers;
  std::string body;
  std::shared_ptr<BodySource> body_source;  // used instead of `body` when set
  // Streams a 2xx response body (false aborts); other bodies land in HttpResponse::body.
  std::function<bool(std::string_view)> on_body;
};

struct HttpResponse {
  long status = 0;
  HeaderList headers;  // names in lower case
  std::string body;
  int transport_code = 0;  // the CURLcode when no HTTP answer arrived
  std::string transport_error;
  // The peer's certificate could not be trusted (or the CA bundle read): trying again cannot help.
  bool untrusted_peer = false;

  bool transport_failed() const { return transport_code != 0; }
  std::string header(std::string_view lowercase_name) const;
};

struct HttpOptions {
  long max_connections_per_host = 64;
  long connect_timeout_ms = 3100;
  long stall_timeout_s = 30;  // abort a transfer that moves no bytes for this long
  std::string ca_bundle;      // empty: probed (see ca_bundle_path)

  // HTTP_MAX_CONNECTIONS_PER_HOST, HTTP_CONNECT_TIMEOUT_MS, HTTP_STALL_TIMEOUT_S, AWS_CA_BUNDLE.
  static HttpOptions from_environment();
};

// The CA bundle to verify TLS with: AWS_CA_BUNDLE, SSL_CERT_FILE or CURL_CA_BUNDLE when set, else
// the first that exists of Amazon Linux 2023's, Debian's and the other usual locations. Empty when
// none does (libcurl's built-in default then applies).
std::string ca_bundle_path();

class HttpEngine {
 public:
  using Completion = std::function<void(HttpResponse&&)>;

  explicit HttpEngine(HttpOptions options = HttpOptions::from_environment());
  ~HttpEngine();
  HttpEngine(const HttpEngine&) = delete;
  HttpEngine& operator=(const HttpEngine&) = delete;

  // The process-wide engine, created on first use.
  static HttpEngine& shared();

  // Starts a transfer; `done` runs on the engine's thread when it ends, so it must be quick.
  void submit(HttpRequest request, Completion done);
  // Runs `task` on the engine's thread after `delay` (retry backoff without a sleeping thread).
  void run_after(std::chrono::milliseconds delay, std::function<void()> task);
  // Blocking convenience.
  HttpResponse perform(HttpRequest request);

  struct Stats {
    std::uint64_t requests = 0;
    std::uint64_t connections_opened = 0;
  };
  Stats stats() const;
  const HttpOptions& options() const { return options_; }

 private:
  struct Impl;
  HttpOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace common
