#pragma once
// Relays HTTP requests unchanged to one upstream over a kept-alive connection (one Forwarder per
// client connection). Used by `lambda-local serve` and by the tests' fault-injecting proxy.
#include <optional>
#include <string>

#include "devtools/lambda_local/http_server.h"

namespace devtools {

struct Upstream {
  std::string host;
  std::string port;
};
// Accepts http://host:port[/]; throws std::invalid_argument otherwise.
Upstream parse_upstream(const std::string& url);

class Forwarder {
 public:
  explicit Forwarder(Upstream upstream) : upstream_(std::move(upstream)) {}
  // The upstream's answer, or 502 when it cannot be reached.
  Response forward(const Request& request);

 private:
  Upstream upstream_;
  boost::asio::io_context io_;
  std::optional<tcp::socket> socket_;
};

// Writes a response; for HEAD only the head (its Content-Length describes a body not sent).
void write_response(tcp::socket& socket, const Request& request, Response& response,
                    boost::beast::error_code& error);

}  // namespace devtools
