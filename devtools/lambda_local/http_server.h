#pragma once
// A small blocking HTTP/1.1 server on Boost.Beast: one thread per connection, which suits the
// Runtime API (a long-poll per sandbox) and a local Invoke API. stop() unblocks every thread.
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace devtools {

namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Reads one request, answering `Expect: 100-continue` so clients do not stall before the body.
// Returns nullopt when the peer closed the connection or the server is stopping.
// Blocks SIGINT and SIGTERM (call it before any thread starts, so every thread inherits the mask)
// for wait_for_stop_signal() to receive.
void block_stop_signals();
// Returns once SIGINT or SIGTERM arrives.
void wait_for_stop_signal();

std::optional<Request> read_request(tcp::socket& socket, boost::beast::flat_buffer& buffer,
                                    std::uint64_t body_limit);

Response make_response(http::status status, const Request& request, std::string body,
                       std::string_view content_type = "application/json");

class HttpServer {
 public:
  using ConnectionHandler = std::function<void(tcp::socket&)>;

  // Binds 127.0.0.1:port (0 picks a free port) and starts accepting.
  HttpServer(std::uint16_t port, ConnectionHandler handler, std::string host = "127.0.0.1");
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::uint64_t connections_accepted() const { return connections_accepted_.load(); }
  // Closes the listener and every connection, then joins all threads. Idempotent.
  void stop();

 private:
  struct Connection {
    tcp::socket socket;
    std::thread thread;
    bool done = false;
  };

  void accept_loop();
  void reap_finished_connections();

  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  ConnectionHandler handler_;
  std::mutex mutex_;
  std::list<std::unique_ptr<Connection>> connections_;
  bool stopping_ = false;
  std::atomic<std::uint64_t> connections_accepted_{0};
  std::thread accept_thread_;
};

}  // namespace devtools
