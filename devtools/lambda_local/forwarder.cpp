#include "devtools/lambda_local/forwarder.h"

#include <boost/asio/connect.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <limits>
#include <stdexcept>

namespace devtools {

Upstream parse_upstream(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) {
    throw std::invalid_argument("upstream must be http://host:port: " + url);
  }
  std::string rest = url.substr(kScheme.size());
  if (const auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) {
    throw std::invalid_argument("upstream must name a port: " + url);
  }
  return Upstream{rest.substr(0, colon), rest.substr(colon + 1)};
}

Response Forwarder::forward(const Request& request) {
  Request outgoing = request;
  // The client's 100-continue was answered already; the upstream would send a second one.
  outgoing.erase(http::field::expect);
  for (int attempt = 0; attempt < 2; ++attempt) {
    boost::beast::error_code error;
    const bool reused = socket_.has_value();
    if (!socket_) {
      tcp::resolver resolver(io_);
      tcp::socket socket(io_);
      boost::asio::connect(socket, resolver.resolve(upstream_.host, upstream_.port, error), error);
      if (error) break;
      socket.set_option(tcp::no_delay(true), error);
      socket_.emplace(std::move(socket));
    }
    http::write(*socket_, outgoing, error);
    boost::beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    parser.skip(request.method() == http::verb::head);  // HEAD answers carry no body
    if (!error) http::read(*socket_, buffer, parser, error);
    if (!error) {
      Response response = parser.release();
      if (!response.keep_alive()) socket_.reset();
      if (request.method() != http::verb::head) response.prepare_payload();
      response.keep_alive(request.keep_alive());
      return response;
    }
    socket_.reset();
    // Only a kept-alive connection the upstream had already closed is tried again: the request
    // never reached it. Anything else may have been acted on and must not be repeated.
    const bool stale =
        reused && !parser.got_some() &&
        (error == http::error::end_of_stream || error == boost::asio::error::connection_reset ||
         error == boost::asio::error::broken_pipe);
    if (!stale) break;
  }
  Response failure = make_response(
      http::status::bad_gateway, request,
      R"({"message":"upstream )" + upstream_.host + ":" + upstream_.port + R"( did not answer"})");
  return failure;
}

void write_response(tcp::socket& socket, const Request& request, Response& response,
                    boost::beast::error_code& error) {
  if (request.method() == http::verb::head) {
    http::response_serializer<http::string_body> serializer(response);
    http::write_header(socket, serializer, error);
  } else {
    http::write(socket, response, error);
  }
}

}  // namespace devtools
